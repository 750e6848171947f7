"""The work queue between ingest and workers: interaction ids, bounded for backpressure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Job:
    interaction_id: int
    token: str = ""  # backend-specific receipt (a Redis Streams entry id)


class WorkQueue(Protocol):
    async def put(self, interaction_id: int) -> None: ...

    async def get(self) -> Job: ...

    async def done(self, job: Job) -> None: ...

    async def join(self) -> None: ...

    def depth(self) -> int: ...

    async def close(self) -> None: ...


class MemoryQueue:
    """In-process asyncio queue. `put` waits when full: ingest slows down, memory stays flat."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=maxsize)

    async def put(self, interaction_id: int) -> None:
        await self._queue.put(interaction_id)

    async def get(self) -> Job:
        return Job(await self._queue.get())

    async def done(self, job: Job) -> None:
        self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    def depth(self) -> int:
        return self._queue.qsize()

    async def close(self) -> None:
        return None
