"""A locked or full database while the daemon runs: waited out, nothing lost, nothing doubled.

The faults are real SQLite conditions, not mocks: another connection holds the write lock
(``BEGIN IMMEDIATE``), or ``PRAGMA max_page_count`` caps the file at its current size
("database or disk is full"). The daemon's busy_timeout is lowered to 50 ms on its own
connections so the lock surfaces as an error at once instead of after 10 s.
The fault starts at an exact point of the pipeline (while a message is being scored, or
right after a reply was posted) and the test lifts it only after health has shown it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.config import Config
from bot.daemon import Daemon
from bot.health import snapshot
from connectors.base import Outbound, SentRef
from responders.scoring import Scores
from storage.models import Interaction, OutboxMessage
from tests.support.harness import FakeConnector, count_rows, make_config, message
from tests.support.stub_scorer import StubScorer


class Fault:
    """Another process's hold on the database file: a write lock, or a size cap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("CREATE TABLE IF NOT EXISTS fault_filler (b BLOB)")
        self.max_pages: int | None = None  # applied to the daemon's connections on checkout
        self.started = 0

    def lock(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.started += 1

    def unlock(self) -> None:
        self.conn.execute("ROLLBACK")

    def fill(self) -> None:
        """Cap the file at its size, and use up its free pages, so any new page fails."""
        (pages,) = self.conn.execute("PRAGMA page_count").fetchone()
        self.conn.execute(f"PRAGMA max_page_count={int(pages)}")
        with contextlib.suppress(sqlite3.OperationalError):  # "database or disk is full"
            for _ in range(100_000):
                self.conn.execute("INSERT INTO fault_filler VALUES (zeroblob(2000))")
        self.max_pages = int(pages)
        self.started += 1

    def make_room(self) -> None:
        self.max_pages = None

    def attach(self, daemon: Daemon) -> None:
        """Lower the daemon's busy_timeout; apply the size cap, if any, on every checkout."""
        engine = daemon.storage.db.engine.sync_engine

        def on_connect(dbapi: Any, _record: Any) -> None:
            dbapi.cursor().execute("PRAGMA busy_timeout=50")

        def on_checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
            limit = self.max_pages if self.max_pages is not None else 1_073_741_823
            dbapi.cursor().execute(f"PRAGMA max_page_count={int(limit)}")

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "checkout", on_checkout)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")
        self.conn.close()


class TriggerScorer(StubScorer):
    """Starts the fault when it scores a message containing ``word``."""

    def __init__(self, word: str, start: Callable[[], None]) -> None:
        self.word = word
        self.start = start

    def score(self, text: str) -> Scores:
        if self.word in text:
            self.start()
            self.word = "\x00never again"
        return super().score(text)


class LockAfterPost(FakeConnector):
    """The platform accepts the reply, then the database is locked before it is recorded."""

    def __init__(self, start: Callable[[], None]) -> None:
        super().__init__()
        self.start = start

    async def send(self, reply: Outbound) -> SentRef:
        ref = await super().send(reply)
        if len(self.sent) == 1:
            self.start()
        return ref


def db_path(config: Config) -> Path:
    return Path(config.database_url.removeprefix("sqlite:///"))


async def wait_for(predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[asyncio.Task[Any]]:
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        yield task
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)


@contextlib.contextmanager
def fault_on(config: Config) -> Iterator[Fault]:
    fault = Fault(db_path(config))
    try:
        yield fault
    finally:
        fault.close()


async def _ready_db(config: Config) -> None:
    """Create the schema first, so the fault's connection opens an existing file."""
    daemon = Daemon(config, connectors=[], scorer=StubScorer())
    await daemon.storage.db.upgrade()
    await daemon.storage.db.close()


@pytest.mark.parametrize("kind", ["locked", "full"])
async def test_worker_waits_out_a_locked_or_full_database_and_loses_nothing(
    tmp_path: Path, kind: str
) -> None:
    # A reply longer than a page: recording it needs new pages, which a full file refuses.
    long_ack = {"templates": {"ack": "Sorry {name}! " + "We are on it. " * 500}}
    config = make_config(tmp_path, replies={**long_ack, "max_length": {"fake": 20_000}})
    await _ready_db(config)
    with fault_on(config) as fault:
        start = fault.lock if kind == "locked" else fault.fill
        fake = FakeConnector(max_length=20_000)
        daemon = Daemon(config, connectors=[fake], scorer=TriggerScorer("FAULT", start))
        fault.attach(daemon)
        fake.bind(daemon.storage.inbound)
        async with running(daemon):
            fake.push(message("my parcel is late FAULT", id="m1", author="ann"))
            # The decision transaction fails; the worker retries instead of giving up.
            await wait_for(lambda: daemon.stats.database_retries >= 2)
            health = await snapshot(daemon)
            assert health["database_retries"] >= 2 and health["processed"] == 0
            fake.push(message("the app is broken", id="m2", author="bob"))
            await asyncio.sleep(0.3)  # m2 arrives while the database is still unusable
            fault.unlock() if kind == "locked" else fault.make_room()
            await wait_for(lambda: len(fake.sent) == 2)
            # Long-running, not restarted: the daemon still takes new work afterwards.
            fake.push(message("still never arrived", id="m3", author="cy"))
            await wait_for(lambda: len(fake.sent) == 3)
    assert fault.started == 1
    assert sorted(r.in_reply_to or "" for r in fake.sent) == ["m1", "m2", "m3"]
    assert await count_rows(config, Interaction, direction="in", status="pending") == 0
    assert await count_rows(config, Interaction, direction="in") == 3
    assert await count_rows(config, OutboxMessage, status="sent") == 3


async def test_reply_posted_while_the_database_is_locked_is_recorded_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    await _ready_db(config)
    with fault_on(config) as fault:
        fake = LockAfterPost(fault.lock)
        daemon = Daemon(config, connectors=[fake], scorer=StubScorer())
        fault.attach(daemon)
        fake.bind(daemon.storage.inbound)
        async with running(daemon):
            fake.push(message("refund please, order lost", id="m1", author="ann"))
            await wait_for(lambda: daemon.stats.database_retries >= 2)
            assert await count_rows(config, OutboxMessage, status="sending") == 1
            fault.unlock()
            await wait_for(lambda: daemon.stats.replies_sent["ack"] == 1)
            fake.push(message("and the app is broken", id="m2", author="bob"))
            await wait_for(lambda: len(fake.sent) == 2)  # the sender survived
    assert [r.in_reply_to for r in fake.sent] == ["m1", "m2"]  # posted once each
    assert await count_rows(config, OutboxMessage, status="sent") == 2
    assert await count_rows(config, Interaction, direction="out") == 2


async def test_messages_arriving_while_the_database_is_full_are_stored_later(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    await _ready_db(config)
    with fault_on(config) as fault:
        fake = FakeConnector(max_length=20_000)
        daemon = Daemon(config, connectors=[fake], scorer=StubScorer())
        fault.attach(daemon)
        fake.bind(daemon.storage.inbound)
        async with running(daemon):
            fake.push(message("my order never came", id="m0", author="zed"))
            await wait_for(lambda: len(fake.sent) == 1)
            await asyncio.to_thread(fault.fill)  # waits for the daemon's own writes
            long = "it is broken. " * 500  # longer than a page: needs new pages
            fake.push(*[message(f"{long}#{n}", id=f"f{n}", author=f"u{n}") for n in range(20)])
            await asyncio.sleep(1.0)  # the store is refused ("database or disk is full")
            assert await count_rows(config, Interaction, direction="in") == 1
            assert len(fake.sent) == 1
            fault.make_room()
            await wait_for(lambda: len(fake.sent) == 21)
    assert sorted(r.in_reply_to or "" for r in fake.sent[1:]) == sorted(f"f{n}" for n in range(20))
    assert await count_rows(config, Interaction, direction="in") == 21
    assert await count_rows(config, Interaction, direction="in", status="pending") == 0
