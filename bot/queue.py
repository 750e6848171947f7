"""The work queue between ingest and workers: interaction ids, bounded for backpressure.

Two backends share one protocol: :class:`MemoryQueue` (one process, the embedded default)
and :class:`bot.redis_queue.RedisQueue` (Redis Streams, shared by processes on several
hosts). Jobs move in batches — one stored batch is queued at once, a worker takes up to a
batch — because per-message round trips, not scoring, were what limited throughput.

A job is ``done`` when its message was processed (or found already processed) and
``failed`` when processing raised: the memory queue forgets it (the row stays ``pending``
and is re-queued on the next start), Redis leaves it unacknowledged, to be claimed again
after ``claim_idle_seconds`` and dead-lettered after ``max_deliveries``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from bot.config import QueueSettings


UNKNOWN_ROOM = 1 << 30  # room() of a queue that cannot tell: read on, put_many bounds it


@dataclass(frozen=True, slots=True)
class Job:
    interaction_id: int
    token: str = ""  # backend-specific receipt (a Redis Streams entry id)


class WorkQueue(Protocol):
    async def put(self, interaction_id: int) -> None: ...

    async def put_many(self, interaction_ids: Sequence[int]) -> None:
        """Queue all of them, in order, waiting while the queue is full."""
        ...

    def room(self) -> int:
        """How many more jobs fit now without waiting (a large number when not known here).

        Ingest asks before reading the next message from a platform, so what has been read
        but cannot be queued yet stays small: under a backlog a message then waits in the
        queue only, not in a read-ahead too (ack latency is in-flight / throughput).
        """
        ...

    async def room_freed(self) -> None:
        """Return when a consumer has taken jobs (callers re-check :meth:`room`)."""
        ...

    async def get(self) -> Job: ...

    async def get_many(self, limit: int) -> list[Job]:
        """Wait for at least one job; return it with up to ``limit - 1`` more already there."""
        ...

    async def done(self, job: Job) -> None: ...

    async def done_many(self, jobs: Sequence[Job]) -> None: ...

    async def failed(self, jobs: Sequence[Job]) -> None:
        """Processing raised: the backend decides about another delivery (see module doc)."""
        ...

    async def join(self) -> None:
        """Return when every job put so far is done (or failed for good)."""
        ...

    def depth(self) -> int: ...

    async def close(self) -> None: ...


class MemoryQueue:
    """In-process asyncio queue. `put` waits when full: ingest slows down, memory stays flat."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=maxsize)
        self._room = asyncio.Event()  # set whenever a worker takes jobs

    async def put(self, interaction_id: int) -> None:
        await self._queue.put(interaction_id)

    async def put_many(self, interaction_ids: Sequence[int]) -> None:
        for interaction_id in interaction_ids:
            if self._queue.full():
                await self._queue.put(interaction_id)
            else:
                self._queue.put_nowait(interaction_id)

    def room(self) -> int:
        if self._queue.maxsize <= 0:
            return UNKNOWN_ROOM
        return self._queue.maxsize - self._queue.qsize()

    async def room_freed(self) -> None:
        self._room.clear()
        await self._room.wait()

    async def get(self) -> Job:
        return (await self.get_many(1))[0]

    async def get_many(self, limit: int) -> list[Job]:
        jobs = [Job(await self._queue.get())]
        while len(jobs) < limit and not self._queue.empty():
            jobs.append(Job(self._queue.get_nowait()))
        self._room.set()
        return jobs

    async def done(self, job: Job) -> None:
        self._queue.task_done()

    async def done_many(self, jobs: Sequence[Job]) -> None:
        for _ in jobs:
            self._queue.task_done()

    async def failed(self, jobs: Sequence[Job]) -> None:
        # The rows stay `pending` in the database: re-queued when the daemon starts again.
        await self.done_many(jobs)

    async def join(self) -> None:
        await self._queue.join()

    def depth(self) -> int:
        return self._queue.qsize()

    async def close(self) -> None:
        return None


def build_queue(settings: QueueSettings, *, consumer: str | None = None) -> WorkQueue:
    """The configured backend. ``consumer`` names this process in a Redis consumer group."""
    if settings.backend == "redis":
        from bot.redis_queue import RedisQueue

        return RedisQueue.from_settings(settings, consumer=consumer)
    return MemoryQueue(settings.maxsize)
