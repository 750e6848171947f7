"""The crash test's side of the daemon: start it, watch its database, kill it, let it finish.

Used by benchmarks/crash_test.py; separate so that each file stays readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KILL_PATIENCE = 30.0  # a kill phase where nothing moves for this long kills anyway
FINISH_PATIENCE = 180.0  # the last run gives up after this long without progress


# -- progress, read from the daemon's database ---------------------------------------------


class Progress:
    """Counts in the daemon's SQLite file; the kill schedule follows the work done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _query(self) -> tuple[int, int, int, int]:
        if not self.path.exists():
            return (0, 0, 0, 0)
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            row = self._conn.execute(
                "SELECT (SELECT count(*) FROM interactions WHERE direction = 'in'),"
                " (SELECT count(*) FROM interactions WHERE direction = 'in'"
                "  AND status = 'pending'),"
                " (SELECT count(*) FROM outbox WHERE status = 'sent'),"
                " (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending'))"
            ).fetchone()
        except sqlite3.OperationalError:  # schema not created yet
            return (0, 0, 0, 0)
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    async def counts(self) -> tuple[int, int, int, int]:
        """(stored, pending, replies sent, replies waiting)."""
        return await asyncio.to_thread(self._query)

    async def work(self) -> int:
        """Stored + processed + 2 x sent: a post costs about twice a store or a decision, so
        kills spread over the run's time, the sending included."""
        stored, pending, sent, _ = await self.counts()
        return stored + (stored - pending) + 2 * sent

    async def drained(self, expected: int) -> bool:
        stored, pending, _, waiting = await self.counts()
        return stored >= expected and pending == 0 and waiting == 0

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


# -- the daemon under test -----------------------------------------------------------------


class DaemonRunner:
    """Starts ``python -m bot run`` again and again; each run logs to its own file."""

    def __init__(self, workdir: Path, config: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config = config
        self.runs = 0
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}

    async def _spawn(self, log: Path, *args: str) -> asyncio.subprocess.Process:
        with log_to(log) as fd:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *args, "--config", str(self.config),
                cwd=REPO, env=self.env, stdout=fd, stderr=fd,
            )  # fmt: skip

    async def command(self, *args: str) -> int:
        return await (await self._spawn(self.workdir / "db-upgrade.log", *args)).wait()

    def log(self) -> Path:
        return self.workdir / f"daemon-{self.runs:02d}.log"

    async def start(self) -> asyncio.subprocess.Process:
        self.runs += 1
        return await self._spawn(self.log(), "run")

    async def up(self, process: asyncio.subprocess.Process, seconds: float = 300.0) -> bool:
        """Wait until the run has started (migrated, reconciled, signal handlers in place)."""
        deadline = time.monotonic() + seconds
        while process.returncode is None and time.monotonic() < deadline:
            if "socialbot running" in await asyncio.to_thread(self.log().read_text, "utf-8"):
                return True
            await asyncio.sleep(0.2)
        return False


@contextlib.contextmanager
def log_to(path: Path) -> Iterator[int]:
    """A file descriptor for a child's output (the child keeps its own copy)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        yield fd
    finally:
        os.close(fd)


async def exited(process: asyncio.subprocess.Process, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), seconds)
    return process.returncode is not None


@dataclass
class Schedule:
    """When to kill: after a random share of the expected work, sometimes during start-up."""

    rng: random.Random
    progress: Progress
    step: float  # expected work between two kills
    stream_done: asyncio.Event

    async def _idle(self, expected: int) -> bool:
        return self.stream_done.is_set() and await self.progress.drained(expected)

    async def wait(self, process: asyncio.subprocess.Process, expected: int) -> str:
        started = time.monotonic()
        if self.rng.random() < 0.2:
            await asyncio.sleep(self.rng.uniform(0.3, 4.0))
            return "start-up"
        target = await self.progress.work() + self.rng.uniform(0.1, 1.9) * self.step
        last, last_change = -1, started
        while process.returncode is None:
            await asyncio.sleep(0.05)
            done = await self.progress.work()
            if done >= target:
                return "busy"
            if done != last:
                last, last_change = done, time.monotonic()
            if time.monotonic() - started > 1.0 and await self._idle(expected):
                return "idle"
            if time.monotonic() - last_change > KILL_PATIENCE:
                return "nothing moving"
        return "exited by itself"


async def kill_loop(runner: DaemonRunner, schedule: Schedule, kills: int, expected: int) -> None:
    for number in range(1, kills + 1):
        process = await runner.start()
        moment = await schedule.wait(process, expected)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        stored, pending, sent, waiting = await schedule.progress.counts()
        print(
            f"kill {number:2d}/{kills} ({moment}): stored={stored} pending={pending} "
            f"replies_sent={sent} replies_waiting={waiting}",
            flush=True,
        )


async def finish(
    runner: DaemonRunner, limit: float, progress: Progress, ready: Callable[[], Awaitable[bool]]
) -> bool:
    """The last run drains the backlog, then stops cleanly on SIGTERM."""
    process = await runner.start()
    if not await runner.up(process):
        print(f"final run did not start: see {runner.log()}", flush=True)
    deadline = time.monotonic() + limit
    drained, last, last_change = False, -1, time.monotonic()
    while time.monotonic() < deadline and process.returncode is None:
        await asyncio.sleep(0.5)
        if await ready():
            drained = True
            break
        done = await progress.work()
        if done != last:
            last, last_change = done, time.monotonic()
        elif time.monotonic() - last_change > FINISH_PATIENCE:
            print(f"final run: no progress for {FINISH_PATIENCE:.0f} s", flush=True)
            break
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        if not await exited(process, 60):
            print("the daemon did not stop within 60 s of SIGTERM: killed", flush=True)
            process.send_signal(signal.SIGKILL)
            await process.wait()
    print(f"final run: drained={drained} exit_code={process.returncode}", flush=True)
    return drained and process.returncode == 0
