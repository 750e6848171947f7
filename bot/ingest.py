"""Ingest: read a connector, store each message (with its cursor), then queue it.

Order matters: stored -> cursor saved (same transaction) -> connector told (mark read) ->
queued. A crash anywhere loses nothing: unstored items are read again, stored ones are
re-queued on start.

Items are stored in batches: a reader task pulls ``listen()`` into a small buffer and the
store loop takes whatever has arrived (up to ``BATCH``) in one transaction. A quiet platform
gives batches of one (no added latency); a backlog gives full batches (one commit per
batch instead of per message). The reader reads the next message only when the work queue
has room for it and those already read, so a full queue stops reading at once: under a backlog
the messages read but not yet queued stay few (each one's acknowledgement waits for them).

A stop (the task cancelled) never interrupts a batch half-way: the batch being stored, marked
read and queued finishes first (within ``stop_grace`` seconds), as a worker's batch does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential_jitter,
)

from bot.errors import AuthError, BotError, ConnectorError, RateLimited
from bot.queue import WorkQueue
from bot.stats import RunStats
from connectors.base import Connector, Inbound
from storage.inbound import InboundRepo

log = logging.getLogger(__name__)

AUTH_RETRY_SECONDS = 300.0
BATCH = 128  # most items stored in one transaction (and read ahead of storage)
STOP_GRACE_SECONDS = 30.0  # how long a stop waits for the batch being stored
ROOM_POLL_SECONDS = 0.05  # a reader waiting for queue room re-checks at least this often
_exponential = wait_exponential_jitter(initial=1, max=300, jitter=2)


def connector_wait(state: RetryCallState) -> float:
    """Wait as long as the platform asked; longer for bad credentials; else back off."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RateLimited) and exc.reset_at is not None:
        return max((exc.reset_at - datetime.now(UTC)).total_seconds(), 1.0)
    if isinstance(exc, AuthError):
        return AUTH_RETRY_SECONDS
    return float(_exponential(state))


class Ingest:
    def __init__(
        self,
        connector: Connector,
        inbound: InboundRepo,
        queue: WorkQueue,
        stats: RunStats,
        *,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.connector = connector
        self.inbound = inbound
        self.queue = queue
        self.stats = stats
        self.stop_grace = stop_grace
        self._storing = 0  # messages read and being stored and queued

    async def run(self, *, follow: bool) -> None:
        """Read until cancelled (follow) or until the platform has nothing more (once)."""
        name = self.connector.name
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((ConnectorError, OSError, TimeoutError)),
            wait=connector_wait,
            stop=stop_never if follow else stop_after_attempt(3),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self.connector.connect()
                    await self._pump(follow)
        except ConnectorError as exc:
            # Only reached in --once mode: report it, let the other connectors finish.
            self.stats.connector_errors[name] += 1
            log.error("connector %s gave up: %s", name, exc)
        except BotError as exc:
            # A setting or credential that retrying cannot fix (e.g. a missing variable):
            # this connector stops, the others keep running.
            self.stats.connector_errors[name] += 1
            self.connector.health().error(str(exc), fatal=True)
            log.error("connector %s stopped: %s", name, exc)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.stats.connector_errors[self.connector.name] += 1
        health = self.connector.health()
        if isinstance(exc, AuthError):
            health.error(f"credentials refused: {exc}", fatal=True)
            health.token_valid = False
        else:
            health.error(f"{type(exc).__name__}: {exc}")
        wait = state.upcoming_sleep
        log.warning(
            "connector %s failed (%s: %s); retrying in %.0fs",
            self.connector.name,
            type(exc).__name__,
            exc,
            wait,
        )

    async def _pump(self, follow: bool) -> None:
        """Store what the reader has buffered, a batch at a time, until the listen ends."""
        buffer: asyncio.Queue[Inbound | _End] = asyncio.Queue(maxsize=BATCH)
        reader = asyncio.create_task(self._read(buffer, follow), name=f"read-{self.connector.name}")
        try:
            while True:
                batch = [await buffer.get()]
                while len(batch) < BATCH and not buffer.empty():
                    batch.append(buffer.get_nowait())
                items = [entry for entry in batch if isinstance(entry, Inbound)]
                if items:
                    self._storing = len(items)
                    try:
                        await self._take_to_the_end(items)
                    finally:
                        self._storing = 0
                end = batch[-1]
                if isinstance(end, _End):
                    if end.error is not None:
                        raise end.error
                    return
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, buffer: asyncio.Queue[Inbound | _End], follow: bool) -> None:
        try:
            async for item in self.connector.listen(follow=follow):
                await buffer.put(item)
                await self._room_for_one_more(buffer)
        except Exception as exc:  # handed to the store loop, which raises it for the retry
            await buffer.put(_End(exc))
        else:
            await buffer.put(_End(None))

    async def _room_for_one_more(self, buffer: asyncio.Queue[Inbound | _End]) -> None:
        """Read the next message only when the queue can take it with those read before.

        Under a backlog what is read but not queued then stays within the queue's room (it
        was a full buffer and a full batch beyond a full queue): a message's ack waits for
        the queue, not for a read-ahead too. Re-checked when a worker takes jobs, and every
        ``ROOM_POLL_SECONDS`` (a batch finishing being queued changes it too).
        """
        while buffer.qsize() + self._storing >= self.queue.room():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ROOM_POLL_SECONDS):
                    await self.queue.room_freed()

    async def _take_to_the_end(self, items: Sequence[Inbound]) -> None:
        """Take a batch; a stop arriving meanwhile waits for it (up to ``stop_grace``).

        Cancelled half-way, the store's transaction would be rolled back while its connection
        is being returned (SQLAlchemy logs that as an error), and a stored batch could be left
        unqueued until the next start. Nothing is lost either way: a batch cut off after the
        grace is read again (not stored) or re-queued at the next start (stored).
        """
        take = asyncio.create_task(self._take_many(items), name=f"store-{self.connector.name}")
        try:
            await asyncio.shield(take)
        except asyncio.CancelledError:
            try:
                await asyncio.wait({take}, timeout=self.stop_grace)
            finally:
                if not take.done():
                    log.warning(
                        "stopping: %d message(s) from %s not stored and queued within %.0fs;"
                        " they are read again or re-queued at the next start",
                        len(items),
                        self.connector.name,
                        self.stop_grace,
                    )
                    take.cancel()
                (outcome,) = await asyncio.gather(take, return_exceptions=True)
                if isinstance(outcome, Exception):
                    log.error(
                        "storing %d message(s) from %s failed while stopping: %s",
                        len(items),
                        self.connector.name,
                        outcome,
                    )
            raise

    async def _take_many(self, items: Sequence[Inbound]) -> None:
        self.stats.read += len(items)
        self.connector.health().messages_in += len(items)
        interaction_ids = await self._store(items)
        for item in items:
            await self.connector.committed(item)
        new = [i for i in interaction_ids if i is not None]
        self.stats.duplicates += len(items) - len(new)
        self.stats.stored += len(new)
        await self.queue.put_many(new)

    async def _store(self, items: Sequence[Inbound]) -> list[int | None]:
        """Store, retrying a locked or unreachable database: a read message is never dropped."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((OperationalError, OSError)),
            wait=wait_exponential_jitter(multiplier=0.2, max=30),
            stop=stop_never,
            before_sleep=lambda s: log.warning(
                "database unavailable, retrying store: %s",
                s.outcome.exception() if s.outcome else "?",
            ),
            reraise=True,
        ):
            with attempt:
                return await self.inbound.record_many(items)
        raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class _End:
    """The reader is finished: the listen ended (error None) or raised ``error``."""

    error: Exception | None
