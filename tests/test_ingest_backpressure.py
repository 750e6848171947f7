"""Backpressure: ingest reads from a platform only what the queue can take.

Under a backlog a message's acknowledgement waits for everything read before it (latency is
in-flight / throughput). Ingest used to read ahead a full buffer and a full batch beyond a
full queue (2 x 128 messages); it now asks the queue for room before reading the next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from bot.ingest import Ingest
from bot.queue import MemoryQueue
from bot.stats import RunStats
from connectors.base import Inbound
from storage.db import Database
from storage.inbound import InboundRepo
from tests.support.harness import FakeConnector, message

GUARD = 10.0  # a hang guard, not a timing check


class CountingConnector(FakeConnector):
    """Counts what ingest has pulled from the platform."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        async for item in super().listen(follow=follow):
            self.read += 1
            yield item


async def _until(predicate: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + GUARD
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.005)


async def _settled(rounds: int = 100) -> None:
    """Let the tasks run on a while (no consumer: ingest ends up waiting)."""
    for _ in range(rounds):
        await asyncio.sleep(0.005)


async def test_a_full_queue_stops_reading_beyond_one_batch(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()
    inbound = InboundRepo(db)
    fake = CountingConnector()
    fake.bind(inbound)
    fake.push(*(message(f"where is my parcel {n}", id=str(n)) for n in range(500)))
    queue = MemoryQueue(maxsize=10)  # nobody takes from it: a stalled pipeline
    ingest = Ingest(fake, inbound, queue, RunStats(), stop_grace=0.1)
    task = asyncio.create_task(ingest.run(follow=True))
    try:
        await _until(lambda: queue.depth() == 10)
        await _settled()  # time to read on, had it wanted to
        # queued (10) + at most the batch stored while there was room, still waiting to be
        # queued (< 10) + the one read before the wait. Before: 10 + 128 + 128.
        assert fake.read <= 2 * 10 + 1, f"read {fake.read} messages ahead of a full queue"
        taken = await queue.get_many(10)  # a worker takes a batch: reading resumes
        await queue.done_many(taken)
        before = fake.read
        await _until(lambda: queue.depth() == 10)
        assert fake.read > before
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=GUARD)
        await db.close()


async def test_room_is_what_fits_and_freed_when_a_worker_takes() -> None:
    queue = MemoryQueue(maxsize=3)
    await queue.put_many([1, 2])
    assert queue.room() == 1
    freed = asyncio.create_task(queue.room_freed())
    await asyncio.sleep(0.01)
    assert not freed.done()
    await queue.get_many(2)
    await asyncio.wait_for(freed, GUARD)
    assert queue.room() == 3
