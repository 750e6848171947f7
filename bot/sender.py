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
from datetime import UTC, datetime, timedelta

from bot.errors import AuthError, ConnectorError, RateLimited, TransientError
from bot.stats import RunStats
from connectors.base import Connector
from storage.outbox import OutboxRepo, PendingReply

log = logging.getLogger(__name__)

BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0
AUTH_RETRY = timedelta(minutes=5)


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
    ) -> None:
        self.outbox = outbox
        self.connectors = connectors
        self.stats = stats
        self.max_attempts = max_attempts
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def reconcile(self) -> None:
        """Settle replies a crash left between 'about to send' and 'marked sent'."""
        for item in await self.outbox.in_doubt():
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
                await self.outbox.mark_sent(item, found, reconciled=True)
            else:
                await self.outbox.release(item.outbox_id)

    async def send_due(self) -> int:
        """One pass over due replies. Returns how many were attempted."""
        items = await self.outbox.claim_due(set(self.connectors))
        for item in items:
            await self._send(item)
        return len(items)

    async def flush(self, seconds: float) -> None:
        """Send until nothing is due (for --once and shutdown), for at most ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline and await self.send_due():
            pass

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.send_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _send(self, item: PendingReply) -> None:
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
            await self.outbox.mark_sent(item, ref)
            health.messages_out += 1
            self.stats.replies_sent[item.purpose] += 1
            log.info(
                "sent outbox=%s purpose=%s channel=%s external_id=%s",
                item.outbox_id,
                item.purpose,
                item.reply.channel,
                ref.external_id,
            )

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
        await self.outbox.mark_failed(item, error, wait)

    async def _give_up(self, item: PendingReply, error: str) -> None:
        log.error("send outbox=%s failed for good: %s", item.outbox_id, error)
        self.stats.replies_failed += 1
        await self.outbox.mark_failed(item, error, None)
