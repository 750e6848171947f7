"""Crash test: the real daemon, SIGKILLed at random moments, loses and double-posts nothing.

    python benchmarks/crash_test.py [--messages 5000] [--kills 20] [--seed 1]

Starts the X simulator (tests/sims/x_sim.py) as its own process, writes a config pointing
the X connector at it, and runs ``python -m bot run --config F`` as a subprocess while a
realistic mix of messages (benchmarks/crash_mix.py) streams into the simulator. The daemon
is killed with SIGKILL at ``--kills`` random moments (while it stores, processes, sends,
reconciles or starts up) and restarted each time; the last run is left to drain the
backlog and stopped with SIGTERM. Then, from the database and the simulator's record of
what was posted (benchmarks/crash_check.py): every message stored exactly once and
processed; every thread with a complaint or question (as labelled by the daemon) has one
ticket and exactly one acknowledgement on the platform; no reply posted twice or unrecorded.
Prints detail lines, then ``messages=N lost=0 duplicate_acks=0 kills=K``; exits 1 when any
check fails. The working directory (database, config, logs) is kept on failure.

The simulator's 15-minute budgets are raised (``SIM_BUDGET_SCALE``) and the daemon's own X
pace is overridden (``send_rate_overrides``): at X's real posting limit 5,000 messages take
hours. Budgets, 429s and pacing have their own tests (tests/test_x_faults.py,
tests/test_faults_daemon.py, tests/test_loops.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.crash_check import judge, load_snapshot  # noqa: E402
from benchmarks.crash_daemon import (  # noqa: E402
    DaemonRunner,
    Progress,
    Schedule,
    exited,
    finish,
    kill_loop,
    log_to,
)
from benchmarks.crash_mix import BOTS, MixGenerator, Planned, batches  # noqa: E402

SIM_BUDGET_SCALE = 1000
OUR_ID = "1072250532645998596"  # the simulator's default account (tests/sims/x_sim.py)
# Work units per message: stored 1 + processed 1 + about 0.7 replies weighing 2 each.
WORK_PER_MESSAGE = 3.4


@dataclass(frozen=True, slots=True)
class Options:
    messages: int
    kills: int
    seed: int
    rate: float  # messages per second put on the platform
    workdir: Path | None
    keep: bool
    finish_timeout: float


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=200.0, help="messages/s into the sim")
    parser.add_argument("--workdir", type=Path, help="keep database, config and logs here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    parser.add_argument("--finish-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    if args.messages < 1 or args.kills < 0:
        parser.error("--messages must be >= 1 and --kills >= 0")
    return Options(
        args.messages,
        args.kills,
        args.seed,
        args.rate,
        args.workdir,
        args.keep,
        args.finish_timeout,
    )


# -- the simulator -------------------------------------------------------------------------


def serve_x_sim() -> None:
    """Entry point of the simulator process: tests.sims.x_sim with benchmark-sized budgets."""
    from tests.sims import x_sim

    for endpoint in list(x_sim.LIMITS):
        x_sim.LIMITS[endpoint] *= SIM_BUDGET_SCALE
    x_sim.main([])


def credentials() -> dict[str, str]:
    from tests.sims.x_sim import CREDENTIALS

    return dict(CREDENTIALS)


async def start_sim(log: Path) -> tuple[asyncio.subprocess.Process, str]:
    with log_to(log) as fd:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), "--serve-x-sim",
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=fd,
        )  # fmt: skip
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=120)).decode()
    if not line.startswith("PORT="):
        raise RuntimeError(f"the X simulator did not start: {line!r}")
    return process, f"http://127.0.0.1:{int(line.strip().split('=')[1])}"


def write_config(workdir: Path, base_url: str) -> Path:
    bots = ", ".join(f'"{b}"' for b in BOTS)
    path = workdir / "crash.toml"
    path.write_text(
        f"""[bot]
database_url = "sqlite:///{workdir / "crash.sqlite3"}"
workers = 2
outbox_poll_seconds = 0.2
drain_timeout_seconds = 5
send_rate_overrides = {{ x = 100000.0 }}

[connectors.x]
api_base_url = "{base_url}"
user_id = "{OUR_ID}"
handle = "AcmeCare"
known_bots = [{bots}]
poll_interval_seconds = 0.2
initial_lookback_hours = 1.0
request_timeout_seconds = 20.0
retry_attempts = 5
backoff_initial_seconds = 0.05
backoff_max_seconds = 1.0
rate_limit_max_wait_seconds = 2.0
""",
        encoding="utf-8",
    )
    return path


# -- the stream of messages ----------------------------------------------------------------


def _payload(item: Planned, ids: dict[int, str]) -> dict[str, Any]:
    if item.endpoint == "dms":
        return {"sender": item.author, "text": item.text}
    body: dict[str, Any] = {"author": item.author, "text": item.text}
    if item.parent is not None:
        body["in_reply_to"] = ids[item.parent]
    return body


async def stream(base_url: str, plan: list[Planned], rate: float, ids: dict[int, str]) -> None:
    """Put the plan on the platform in order, about ``rate`` messages a second."""
    async with aiohttp.ClientSession(base_url) as http:
        started = time.monotonic()
        for batch in batches(plan, size=50):
            items = [_payload(item, ids) for item in batch]
            async with http.post(f"/_sim/{batch[0].endpoint}", json={"items": items}) as answer:
                answer.raise_for_status()
                created = (await answer.json())["ids"]
            ids.update({item.index: str(new) for item, new in zip(batch, created, strict=True)})
            due = started + len(ids) / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))


async def posted_replies(base_url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(base_url) as http, http.get("/_sim/sent") as answer:
        answer.raise_for_status()
        sent: list[dict[str, Any]] = (await answer.json())["sent"]
        return sent


# -- the whole test ------------------------------------------------------------------------


async def run(opts: Options, workdir: Path) -> bool:
    started = time.monotonic()
    sim, base_url = await start_sim(workdir / "x-sim.log")
    try:
        return await _run_against(opts, workdir, base_url, started)
    finally:
        sim.terminate()
        await exited(sim, 30)


async def _run_against(opts: Options, workdir: Path, base_url: str, started: float) -> bool:
    runner = DaemonRunner(workdir, write_config(workdir, base_url), credentials())
    if await runner.command("db", "upgrade") != 0:
        raise RuntimeError(f"socialbot db upgrade failed: see {workdir / 'db-upgrade.log'}")
    plan = MixGenerator(opts.seed, OUR_ID).plan(opts.messages)
    ids: dict[int, str] = {}
    progress = Progress(workdir / "crash.sqlite3")
    stream_done = asyncio.Event()

    async def streaming() -> None:
        await stream(base_url, plan, opts.rate, ids)
        stream_done.set()

    async def ready() -> bool:
        if not stream_done.is_set() or not await progress.drained(len(plan)):
            return False
        snap = await asyncio.to_thread(load_snapshot, workdir / "crash.sqlite3", "x")
        return set(ids.values()) <= {r.external_id for r in snap.inbound}

    feeder = asyncio.create_task(streaming())
    rng = random.Random(opts.seed)
    schedule = Schedule(
        rng,
        progress,
        step=WORK_PER_MESSAGE * opts.messages / (opts.kills + 1),
        stream_done=stream_done,
    )
    try:
        await kill_loop(runner, schedule, opts.kills, len(plan))
        clean_stop = await finish(runner, opts.finish_timeout, progress, ready)
        await feeder
    finally:
        feeder.cancel()
        progress.close()
    return report(opts, workdir, await posted_replies(base_url), ids, started) and clean_stop


def report(
    opts: Options, workdir: Path, sent: list[dict[str, Any]], ids: dict[int, str], started: float
) -> bool:
    (workdir / "platform-sent.json").write_text(json.dumps(sent, indent=1), encoding="utf-8")
    snap = load_snapshot(workdir / "crash.sqlite3", "x")
    verdict = judge([ids[i] for i in sorted(ids)], snap, sent)
    for line in verdict.lines():
        print(line)
    print(f"seed={opts.seed} runs={opts.kills + 1} elapsed={time.monotonic() - started:.0f}s")
    print(
        f"messages={verdict.messages} lost={verdict.lost} "
        f"duplicate_acks={verdict.duplicate_acks} kills={opts.kills}",
        flush=True,
    )
    return verdict.ok and verdict.messages == opts.messages


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--serve-x-sim"]:
        serve_x_sim()
        return 0
    opts = parse_args(argv)
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="socialbot-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ok = asyncio.run(run(opts, workdir))
    if ok and opts.workdir is None and not opts.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"workdir: {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
