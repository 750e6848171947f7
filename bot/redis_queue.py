"""The work queue on Redis Streams, shared by ingest and worker processes on several hosts.

One stream of interaction ids and one consumer group. A worker reads new entries with
XREADGROUP; an entry is acknowledged *and deleted* (XACK + XDEL in one MULTI) only after its
message was processed, so the stream length is exactly the work not yet done — which is what
the bounded ``put`` checks (backpressure: ingest waits, Redis memory stays flat).

A worker that dies leaves its entries pending; any live worker takes them over with
XAUTOCLAIM once they have been idle ``claim_idle_seconds``. An entry delivered more than
``max_deliveries`` times (a message that crashes every worker) is moved to the dead-letter
stream instead of being retried forever; its database row stays ``pending``.

``join()`` (used by ``run --once`` with ``--role all``) waits until the stream is empty,
i.e. every entry put by anyone was acknowledged or dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_never,
    wait_exponential_jitter,
)

from bot.queue import UNKNOWN_ROOM, Job

if TYPE_CHECKING:
    from bot.config import QueueSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_URL_ENV = "SOCIALBOT_REDIS_URL"  # wins over [queue] redis_url: it may hold a password
FIELD = "id"
IDLE_WAIT_MAX = 0.05  # an empty stream is read again after at most this long
FULL_WAIT_MAX = 0.2  # longest single wait for room in a full stream
REPLY_DEADLINE = 10.0  # seconds for any single Redis reply

# Admit as many ids as there is room for under the bound, atomically (several producers).
_ADMIT = """
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local added = 0
for i = 2, #ARGV do
  if added >= room then break end
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[i])
  added = added + 1
end
return added
"""

_UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError)


def connect(url: str) -> Redis:
    """A client whose every reply has a deadline: a reply lost with a cancelled blocking read
    raises (and is retried) instead of hanging the caller forever."""
    return Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=REPLY_DEADLINE,
    )


def default_consumer() -> str:
    """Unique per process: a restarted worker is a new consumer; the old one's work is claimed."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _log_unavailable(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "redis unavailable (%s); retrying in %.1fs", type(exc).__name__, state.upcoming_sleep
    )


def _retrying() -> AsyncRetrying:
    """Redis down or restarting: wait (jittered, capped) rather than drop or crash."""
    return AsyncRetrying(
        retry=retry_if_exception_type(_UNAVAILABLE),
        wait=wait_exponential_jitter(multiplier=0.2, max=10, jitter=0.5),
        stop=stop_never,
        before_sleep=_log_unavailable,
        reraise=True,
    )


class RedisQueue:
    """A bounded, acknowledged, multi-consumer work queue on one Redis stream."""

    def __init__(
        self,
        client: Redis,
        *,
        stream: str,
        group: str,
        consumer: str | None = None,
        maxsize: int = 1000,
        claim_idle_seconds: float = 60.0,
        max_deliveries: int = 5,
        dead_letter_stream: str = "",
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer()
        self.maxsize = maxsize
        self.claim_idle_ms = max(1, int(claim_idle_seconds * 1000))
        self.max_deliveries = max_deliveries
        self.dead_stream = dead_letter_stream or f"{stream}:dead"
        self._admit = client.register_script(_ADMIT)
        self._group_ready = False
        self._depth = 0
        self._claim_every = max(claim_idle_seconds / 4, 0.05)
        self._next_claim = 0.0
        self._claim_cursor = "0-0"
        self._inflight: set[str] = set()  # delivered to this consumer, not yet done/failed
        self._steps: set[asyncio.Task[Any]] = set()  # shielded reads still running

    @classmethod
    def from_settings(cls, settings: QueueSettings, *, consumer: str | None = None) -> RedisQueue:
        url = os.environ.get(REDIS_URL_ENV) or settings.redis_url
        return cls(
            connect(url),
            stream=settings.stream,
            group=settings.group,
            consumer=consumer,
            maxsize=settings.maxsize,
            claim_idle_seconds=settings.claim_idle_seconds,
            max_deliveries=settings.max_deliveries,
            dead_letter_stream=settings.dead_letter_stream,
        )

    def __repr__(self) -> str:  # never the URL: it may hold a password
        return (
            f"<RedisQueue stream={self.stream!r} group={self.group!r} consumer={self.consumer!r}>"
        )

    async def ensure_group(self) -> None:
        if not self._group_ready:
            await self._shielded(self._create_group())

    async def _create_group(self) -> None:
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- producing ------------------------------------------------------------------------

    async def put(self, interaction_id: int) -> None:
        await self.put_many([interaction_id])

    async def put_many(self, interaction_ids: Sequence[int]) -> None:
        """Append in order; waits while the stream holds ``maxsize`` unfinished entries."""
        await self.ensure_group()
        remaining = [str(i) for i in interaction_ids]
        wait = 0.005
        while remaining:
            added = await self._shielded(self._admit_some(remaining))
            remaining = remaining[added:]
            if remaining:
                await asyncio.sleep(wait)  # full: backpressure reaches the connector
                wait = min(wait * 2, FULL_WAIT_MAX)
            elif added:
                wait = 0.005

    def room(self) -> int:
        """Not known without a round trip per message read: no read-ahead control here;
        ``put_many`` still waits at ``maxsize`` (size the bound for the latency wanted)."""
        return UNKNOWN_ROOM

    async def room_freed(self) -> None:
        await asyncio.sleep(FULL_WAIT_MAX)

    async def _admit_some(self, ids: list[str]) -> int:
        async for attempt in _retrying():
            with attempt:
                added = int(await self._admit(keys=[self.stream], args=[self.maxsize, *ids]))
                self._depth = self._depth + added
                return added
        raise AssertionError("unreachable")

    # -- consuming ------------------------------------------------------------------------

    async def get(self) -> Job:
        return (await self.get_many(1))[0]

    async def get_many(self, limit: int) -> list[Job]:
        """New entries for this consumer, or entries of dead consumers taken over.

        Reads do not BLOCK in Redis: an empty stream is polled again after a short sleep
        (5 ms doubling to 50 ms). Cancelling a task blocked in XREADGROUP could leave
        redis-py's connection waiting forever (seen with redis-py 8 and Redis 7.0); a
        cancelled sleep cannot, and each short read is shielded so it always completes.
        """
        await self.ensure_group()
        wait = 0.005
        while True:
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + self._claim_every
                claimed = await self._jobs(await self._shielded(self._claim(limit)))
                if claimed:
                    return claimed
            entries = await self._shielded(self._read(limit))
            jobs = await self._jobs(entries)
            if jobs:
                return jobs
            await asyncio.sleep(wait)
            wait = min(wait * 2, IDLE_WAIT_MAX)

    async def _shielded(self, step: Coroutine[Any, Any, T]) -> T:
        """Run one Redis step to its end even if the caller is cancelled meanwhile (its
        entries then stay pending for this consumer and are claimed like a dead one's)."""
        task = asyncio.create_task(step)
        self._steps.add(task)
        task.add_done_callback(self._steps.discard)
        return await asyncio.shield(task)

    async def _read(self, limit: int) -> list[tuple[str, dict[str, str]]]:
        async for attempt in _retrying():
            with attempt:
                reply = await self.client.xreadgroup(
                    self.group, self.consumer, {self.stream: ">"}, count=limit
                )
        return _entries(reply)

    async def _claim(self, limit: int) -> list[tuple[str, dict[str, str]]]:
        """XAUTOCLAIM entries idle too long (their consumer died or failed on them)."""
        async for attempt in _retrying():
            with attempt:
                reply = await self.client.xautoclaim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_time=self.claim_idle_ms,
                    start_id=self._claim_cursor,
                    count=limit,
                )
        self._claim_cursor = str(reply[0])
        # Our own slow batch is not a dead consumer's: never hand it out twice here.
        entries = [e for e in reply[1] or [] if str(e[0]) not in self._inflight]
        if not entries:
            return []
        deliveries = await self._deliveries([entry_id for entry_id, _ in entries])
        fresh: list[tuple[str, dict[str, str]]] = []
        dead: list[tuple[str, dict[str, str]]] = []
        for entry in entries:
            (dead if deliveries.get(entry[0], 0) > self.max_deliveries else fresh).append(entry)
        if dead:
            await self._dead_letter(dead, deliveries)
        if fresh:
            log.info("claimed %d entr(ies) idle for %d ms", len(fresh), self.claim_idle_ms)
        return fresh

    async def _deliveries(self, entry_ids: list[str]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for entry_id in entry_ids:
            pipe.xpending_range(self.stream, self.group, min=entry_id, max=entry_id, count=1)
        found: dict[str, int] = {}
        for rows in await pipe.execute():
            for row in rows:
                found[str(row["message_id"])] = int(row["times_delivered"])
        return found

    async def _dead_letter(
        self, entries: list[tuple[str, dict[str, str]]], deliveries: dict[str, int]
    ) -> None:
        pipe = self.client.pipeline(transaction=True)
        for entry_id, fields in entries:
            pipe.xadd(
                self.dead_stream,
                {
                    FIELD: fields.get(FIELD, ""),
                    "entry": entry_id,
                    "deliveries": str(deliveries.get(entry_id, 0)),
                    "last_consumer": self.consumer,
                },
            )
        ids = [entry_id for entry_id, _ in entries]
        pipe.xack(self.stream, self.group, *ids)
        pipe.xdel(self.stream, *ids)
        await pipe.execute()
        for entry_id, fields in entries:
            log.error(
                "interaction=%s failed %d times: moved to dead-letter stream %s (entry %s)",
                fields.get(FIELD, "?"),
                deliveries.get(entry_id, 0),
                self.dead_stream,
                entry_id,
            )

    async def _jobs(self, entries: list[tuple[str, dict[str, str]]]) -> list[Job]:
        jobs, broken = [], []
        for entry_id, fields in entries:
            value = (fields or {}).get(FIELD, "")
            if value.isdigit():
                jobs.append(Job(int(value), token=entry_id))
                self._inflight.add(entry_id)
            else:
                broken.append(Job(0, token=entry_id))
        if broken:
            log.error("dropping %d malformed stream entr(ies) from %s", len(broken), self.stream)
            await self.done_many(broken)
        return jobs

    async def done(self, job: Job) -> None:
        await self.done_many([job])

    async def done_many(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        ids = [job.token for job in jobs]
        self._inflight.difference_update(ids)
        await self._shielded(self._ack(ids))
        self._depth = max(0, self._depth - len(ids))

    async def _ack(self, ids: list[str]) -> None:
        async for attempt in _retrying():
            with attempt:
                pipe = self.client.pipeline(transaction=True)
                pipe.xack(self.stream, self.group, *ids)
                pipe.xdel(self.stream, *ids)
                await pipe.execute()

    async def failed(self, jobs: Sequence[Job]) -> None:
        """Leave them pending: claimed again after the idle time, dead-lettered at the limit."""
        self._inflight.difference_update(job.token for job in jobs)
        self._next_claim = min(self._next_claim, time.monotonic() + self.claim_idle_ms / 1000)

    # -- state ----------------------------------------------------------------------------

    async def join(self) -> None:
        """Until every entry in the stream (from any producer) is acknowledged."""
        # Polled: the stream may be drained by workers in other processes.
        while True:
            if await self.length() == 0:
                return
            await asyncio.sleep(0.05)

    async def length(self) -> int:
        self._depth = await self._shielded(self._xlen())
        return self._depth

    async def _xlen(self) -> int:
        async for attempt in _retrying():
            with attempt:
                return int(await self.client.xlen(self.stream))
        raise AssertionError("unreachable")

    def depth(self) -> int:
        """Last known stream length (refreshed by put, done and join)."""
        return self._depth

    async def close(self) -> None:
        """Leave the group tidy (our consumer, when it holds nothing) and disconnect."""
        try:
            if self._steps:  # reads whose caller was cancelled: let them finish first
                await asyncio.wait(self._steps, timeout=REPLY_DEADLINE)
            if self._group_ready:
                pending = await self.client.xpending_range(
                    self.stream, self.group, min="-", max="+", count=1, consumername=self.consumer
                )
                if not pending:
                    await self.client.xgroup_delconsumer(self.stream, self.group, self.consumer)
        except redis_errors.RedisError as exc:
            log.warning("redis queue close: %s", type(exc).__name__)
        finally:
            await self.client.aclose()


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREADGROUP's reply, ``[[stream, [(entry id, fields), ...]]]``, as (id, fields) pairs."""
    found: list[tuple[str, dict[str, str]]] = []
    for _name, entries in reply or []:
        for entry_id, fields in entries or []:
            found.append((str(entry_id), dict(fields or {})))
    return found
