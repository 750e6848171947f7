"""Worker processes on PostgreSQL + Redis: shared load, no duplicate, no loss, crash takeover.

Real OS processes (tests/scaleout_worker.py runs Daemon(role="worker")); this test process
is the ingest (Daemon(role="ingest") with the fake platform). Waits are hang guards on
state, never timings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot.config import Config, load_config
from bot.daemon import Daemon
from storage.db import Database, upgrade_schema
from storage.models import Event, Interaction, OutboxMessage
from tests.scaleout_support import REDIS_URL, pg_url, redis_prefix  # noqa: F401 - fixtures
from tests.support.harness import FakeConnector, message

ROOT = Path(__file__).resolve().parent.parent
GUARD = 90.0  # seconds: a hang guard, not a performance check


def write_config(folder: Path, database_url: str, stream: str) -> Path:
    path = folder / "socialbot.toml"
    path.write_text(
        f"""
[bot]
database_url = "{database_url}"
auto_migrate = false
workers = 2
outbox_poll_seconds = 0.05
log_level = "WARNING"

[queue]
backend = "redis"
redis_url = "{REDIS_URL}"
stream = "{stream}"
group = "workers"
batch_size = 10
claim_idle_seconds = 1.0
max_deliveries = 5
send_lease_seconds = 2.0
""",
        encoding="utf-8",
    )
    return path


class Workers:
    """Worker processes started from the config, stopped (or killed) at the end."""

    def __init__(self, config: Path, record: Path) -> None:
        self.config, self.record = config, record
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, **env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.scaleout_worker", str(self.config), str(self.record)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def lines(self, kind: str, pid: int | None = None) -> list[str]:
        pattern = f"{kind}-{pid}.log" if pid else f"{kind}-*.log"
        found: list[str] = []
        for path in sorted(self.record.glob(pattern)):
            found += path.read_text(encoding="utf-8").splitlines()
        return found


@pytest.fixture
def workers(tmp_path: Path, pg_url: str, redis_prefix: str) -> Iterator[Workers]:  # noqa: F811
    upgrade_schema(pg_url)
    record = tmp_path / "record"
    record.mkdir()
    running = Workers(write_config(tmp_path, pg_url, f"{redis_prefix}:inbound"), record)
    yield running
    running.stop()


async def until(what: str, check: object) -> None:
    """Poll a condition another process will make true (no event to wait on)."""
    try:
        async with asyncio.timeout(GUARD):
            while not await check():  # type: ignore[operator]  # noqa: ASYNC110
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def ingest(config: Config, fake: FakeConnector) -> None:
    daemon = Daemon(config, connectors=[fake], role="ingest")
    fake.bind(daemon.storage.inbound)
    await daemon.run(once=True, install_signals=False)


async def settled(config: Config, expected: int) -> bool:
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(Interaction)
                .where(Interaction.direction == "in", Interaction.status != "pending")
            )
            unsent = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
            )
        return done == expected and unsent == 0
    finally:
        await db.close()


async def scored_per_message(config: Config) -> Counter[int]:
    db = Database(config.database_url)
    async with db.session() as session:
        ids = await session.scalars(select(Event.interaction_id).where(Event.type == "scored"))
        counted = Counter(i for i in ids if i is not None)
    await db.close()
    return counted


def texts(count: int, hang_at: int | None = None) -> list[str]:
    kinds = ("my order {} arrived broken", "I love the new drill {}", "where is parcel {}?")
    made = [kinds[n % 3].format(n) for n in range(count)]
    if hang_at is not None:
        made[hang_at] = f"HANG-HERE my order {hang_at} is lost"
    return made


async def test_two_worker_processes_share_one_stream_without_duplicate_or_loss(
    workers: Workers,
) -> None:
    config = load_config(workers.config)
    first, second = workers.start(), workers.start()
    await until("both workers up", lambda: _ready(workers.record, 2))
    sent_texts = texts(300)
    fake = FakeConnector()
    fake.push(*(message(t, id=f"m{n}", author=f"u{n}") for n, t in enumerate(sent_texts)))

    await ingest(config, fake)
    await until("everything processed and sent", lambda: settled(config, 300))

    scored = workers.lines("scored")
    assert sorted(scored) == sorted(sent_texts)  # each delivered once, none lost
    assert workers.lines("scored", first.pid) and workers.lines("scored", second.pid)
    replies = Counter(line.split()[0] for line in workers.lines("sent"))
    assert replies and max(replies.values()) == 1  # no reply posted twice
    per_message = await scored_per_message(config)
    assert len(per_message) == 300 and set(per_message.values()) == {1}


async def test_a_worker_killed_mid_batch_hands_its_messages_to_another(
    workers: Workers,
) -> None:
    config = load_config(workers.config)
    doomed = workers.start(HANG_ON="HANG-HERE")
    await until("the first worker up", lambda: _ready(workers.record, 1))
    sent_texts = texts(60, hang_at=25)
    fake = FakeConnector()
    fake.push(*(message(t, id=f"k{n}", author=f"k{n}") for n, t in enumerate(sent_texts)))
    await ingest(config, fake)
    await until("the worker stuck in a batch", lambda: _exists(workers.record, "hanging-*"))
    held = set(workers.lines("scored", doomed.pid))

    doomed.send_signal(signal.SIGKILL)  # dies holding its batch, nothing acknowledged
    doomed.wait()
    rescuer = workers.start()
    await until("everything processed and sent", lambda: settled(config, 60))

    taken_over = set(workers.lines("scored", rescuer.pid))
    assert "HANG-HERE my order 25 is lost" in taken_over
    per_message = await scored_per_message(config)
    assert len(per_message) == 60 and set(per_message.values()) == {1}  # no loss, no double
    # what the dead worker had read but not finished was redone by the other one
    assert taken_over & held
    replies = Counter(line.split()[0] for line in workers.lines("sent"))
    assert max(replies.values()) == 1  # its replies in flight were settled, not doubled
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    stream = load_config(workers.config).queue.stream
    assert await client.xlen(stream) == 0
    await client.aclose()


async def _ready(record: Path, count: int) -> bool:
    return len(await asyncio.to_thread(lambda: list(record.glob("ready-*")))) >= count


async def _exists(record: Path, pattern: str) -> bool:
    return bool(await asyncio.to_thread(lambda: list(record.glob(pattern))))
