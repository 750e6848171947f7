"""The sender drains the outbox through each reply's own connector.

A reply is marked `sending` before the platform call and `sent` after. A crash in between
leaves it `sending`: on start we ask the platform (`find_sent`) instead of posting again
when the connector can tell; otherwise the reply is sent again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial

from bot.errors import AuthError, ConnectorError, RateLimited, TransientError
from bot.stats import RunStats
from connectors.base import Connector, SentRef
from storage.db import retrying
from storage.outbox import OutboxRepo, PendingReply

log = logging.getLogger(__name__)

BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0
AUTH_RETRY = timedelta(minutes=5)
CLAIM_BATCH = 200  # replies claimed per connector per pass (within the pace budget)
MARK_BATCH = 100  # accepted replies marked sent in one transaction...
MARK_SECONDS = 0.25  # ...or after this long, whichever comes first
# How often a running sender settles rows whose sender died (their lease ran out): a crash
# and a quick restart leave rows whose lease still runs, which start-up does not touch.
RECONCILE_SECONDS = 30.0


class TokenBucket:
    """Paces our own replies under a platform's limit: ``per_minute``, bursts of ``burst``
    (default: a minute's worth; a per-second limit such as Discord's needs a small one)."""

    def __init__(
        self,
        per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        burst: float | None = None,
    ):
        self.rate = per_minute / 60.0 if per_minute else None
        self.capacity = max(1.0, burst or per_minute or 1.0)
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()

    def available(self) -> int:
        if self.rate is None:
            return 1_000_000
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens)

    def take(self) -> None:
        if self.rate is not None:
            self.tokens -= 1


def backoff(attempts: int) -> timedelta:
    """Full-jitter exponential backoff, capped."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - not crypto


class Sender:
    def __init__(
        self,
        outbox: OutboxRepo,
        connectors: dict[str, Connector],
        stats: RunStats,
        *,
        max_attempts: int,
        poll_seconds: float,
        rates: Mapping[str, float] | None = None,
    ) -> None:
        self.outbox = outbox
        self.connectors = connectors
        self.stats = stats
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._marking: asyncio.Task[None] | None = None  # the batch being marked sent
        self._stopping = False
        # The connector's own pace (under the platform's documented limits) unless the config
        # overrides it per connector ([bot] send_rate_overrides: a higher API tier, a test).
        rates = rates or {}
        self.buckets = {
            name: TokenBucket(
                rates.get(name, getattr(c, "send_rate_per_minute", None)),
                burst=None if name in rates else getattr(c, "send_burst", None),
            )
            for name, c in connectors.items()
        }

    async def _record(self, what: str, write: Callable[[], Awaitable[None]]) -> None:
        """An outbox write after the platform call: retried while the database is locked or
        full, or the reply would stay `sending` (unsent, or sent but unrecorded) until restart."""
        async for attempt in retrying(what, self._db_retry):
            with attempt:
                await write()

    def _db_retry(self) -> None:
        self.stats.database_retries += 1

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the reply in flight, then leave `run` (cancelling could strand it `sending`)."""
        self._stopping = True
        self._wake.set()

    async def reconcile(self, *, leased_too: bool = False) -> None:
        """Settle replies a crash left between 'about to send' and 'marked sent'."""
        for item in await self.outbox.in_doubt(leased_too=leased_too):
            connector = self.connectors.get(item.reply.channel)
            found = None
            if connector is not None:
                try:
                    found = await connector.find_sent(item.reply)
                except ConnectorError as exc:
                    log.warning(
                        "reconcile outbox=%s: platform did not answer: %s", item.outbox_id, exc
                    )
            if found is not None:
                log.info(
                    "reconcile outbox=%s: already posted as %s", item.outbox_id, found.external_id
                )
                mark = partial(self.outbox.mark_sent, item, found, reconciled=True)
                await self._record("recording a reconciled reply", mark)
            else:
                release = partial(self.outbox.release, item.outbox_id)
                await self._record("releasing an unsent reply", release)

    async def send_due(self) -> int:
        """One pass over due replies, within each platform's pace. Returns how many were tried.

        Accepted replies are marked sent together (one transaction per ``MARK_BATCH`` or
        ``MARK_SECONDS``), not one by one: a crash in between leaves them `sending`, which
        reconciliation settles with ``find_sent`` exactly as for a single reply. Marking runs
        beside the next claim (one batch at a time), so new replies do not queue behind it.
        """
        tried = 0
        loop = asyncio.get_running_loop()
        for name in self.connectors:
            budget = min(self.buckets[name].available(), CLAIM_BATCH)
            if budget < 1:
                continue
            accepted: list[tuple[PendingReply, SentRef]] = []
            first_at = 0.0
            for item in await self.outbox.claim_due({name}, limit=budget):
                self.buckets[name].take()
                ref = await self._send(item)
                tried += 1
                if ref is None:
                    continue
                first_at = first_at if accepted else loop.time()
                accepted.append((item, ref))
                if len(accepted) >= MARK_BATCH or loop.time() - first_at > MARK_SECONDS:
                    await self._mark_later(accepted)
                    accepted = []
            await self._mark_later(accepted)
        return tried

    async def _mark_later(self, accepted: list[tuple[PendingReply, SentRef]]) -> None:
        if not accepted:
            return
        await self.settle_marks()  # at most one batch being marked: order kept, memory bounded
        self._marking = asyncio.create_task(self._mark_sent(accepted), name="sender-mark")

    async def settle_marks(self) -> None:
        """Wait until every accepted reply is recorded as sent."""
        marking, self._marking = self._marking, None
        if marking is not None:
            await marking

    async def _mark_sent(self, accepted: list[tuple[PendingReply, SentRef]]) -> None:
        if not accepted:
            return
        mark = partial(self.outbox.mark_sent_many, accepted)
        await self._record("recording sent replies", mark)
        for item, ref in accepted:
            self.stats.replies_sent[item.purpose] += 1  # recorded replies: once marked sent
            log.info(
                "sent outbox=%s purpose=%s channel=%s external_id=%s",
                item.outbox_id,
                item.purpose,
                item.reply.channel,
                ref.external_id,
            )

    def _paced(self) -> set[str]:
        return {name for name, bucket in self.buckets.items() if bucket.available() < 1}

    async def flush(self, seconds: float) -> None:
        """Send until nothing is due (for --once and shutdown), for at most ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            while loop.time() < deadline:
                if await self.send_due():
                    continue
                paced = self._paced()
                if not paced or not await self.outbox.pending_count(paced, due_only=True):
                    return  # nothing due, and nothing held back by our own pacing
                await asyncio.sleep(0.2)
        finally:
            await self.settle_marks()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # Never less often than half a lease: a dead worker's replies wait about one lease.
        every = min(RECONCILE_SECONDS, self.outbox.lease.total_seconds() / 2)
        reconcile_at = loop.time() + every
        while not self._stopping:
            self._wake.clear()
            try:
                async for attempt in retrying("sending replies", self._db_retry):
                    with attempt:
                        if loop.time() >= reconcile_at:
                            await self.reconcile()
                            reconcile_at = loop.time() + every
                        await self.send_due()  # a locked database must not end the sender
            except Exception:
                # A bug must not silently end every reply of a long-running daemon: the row
                # concerned stays `sending` (reconciled on the next start), the rest go on.
                self.stats.sender_errors += 1
                log.exception("sender: unexpected error; carrying on with the other replies")
            with contextlib.suppress(TimeoutError):  # not wait_for: see StaffBoard.run
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
        await self.settle_marks()

    async def _send(self, item: PendingReply) -> SentRef | None:
        """The platform's reference when it accepted the reply (marked by the caller)."""
        connector = self.connectors[item.reply.channel]
        health = connector.health()
        try:
            ref = await connector.send(item.reply)
        except RateLimited as exc:
            health.rate_limit_waits += 1
            wait = (exc.reset_at - datetime.now(UTC)) if exc.reset_at else backoff(item.attempts)
            await self._retry(item, f"rate limited: {exc}", max(wait, timedelta(seconds=1)))
        except TransientError as exc:
            await self._retry(item, f"transient: {exc}", backoff(item.attempts))
        except AuthError as exc:
            health.error(f"auth: {exc}", fatal=True)
            await self._retry(item, f"auth: {exc}", AUTH_RETRY, count=False)
        except ConnectorError as exc:
            await self._give_up(item, f"refused: {exc}")
        except Exception as exc:  # a connector bug must not kill the sender
            log.exception("send outbox=%s: unexpected error", item.outbox_id)
            await self._retry(item, f"{type(exc).__name__}: {exc}", backoff(item.attempts))
        else:
            health.messages_out += 1  # platform traffic: counted as the platform accepts it
            return ref
        return None

    async def _retry(
        self, item: PendingReply, error: str, wait: timedelta, *, count: bool = True
    ) -> None:
        if count and item.attempts >= self.max_attempts:
            await self._give_up(item, error)
            return
        log.warning(
            "send outbox=%s failed (attempt %s), retry in %.0fs: %s",
            item.outbox_id,
            item.attempts,
            wait.total_seconds(),
            error,
        )
        await self._record(
            "scheduling a reply retry", lambda: self.outbox.mark_failed(item, error, wait)
        )

    async def _give_up(self, item: PendingReply, error: str) -> None:
        log.error("send outbox=%s failed for good: %s", item.outbox_id, error)
        self.stats.replies_failed += 1
        await self._record(
            "recording a failed reply", lambda: self.outbox.mark_failed(item, error, None)
        )
