"""Ingest: read a connector, store each message (with its cursor), then queue it.

Order matters: stored -> cursor saved (same transaction) -> connector told (mark read) ->
queued. A crash anywhere loses nothing: unstored items are read again, stored ones are
re-queued on start.
"""

from __future__ import annotations

import logging
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

from bot.errors import AuthError, ConnectorError, RateLimited
from bot.queue import WorkQueue
from bot.stats import RunStats
from connectors.base import Connector, Inbound
from storage.inbound import InboundRepo

log = logging.getLogger(__name__)

AUTH_RETRY_SECONDS = 300.0
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
        self, connector: Connector, inbound: InboundRepo, queue: WorkQueue, stats: RunStats
    ) -> None:
        self.connector = connector
        self.inbound = inbound
        self.queue = queue
        self.stats = stats

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
                    async for item in self.connector.listen(follow=follow):
                        await self._take(item)
        except ConnectorError as exc:
            # Only reached in --once mode: report it, let the other connectors finish.
            self.stats.connector_errors[name] += 1
            log.error("connector %s gave up: %s", name, exc)

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

    async def _take(self, item: Inbound) -> None:
        self.stats.read += 1
        self.connector.health().messages_in += 1
        interaction_id = await self._store(item)
        await self.connector.committed(item)
        if interaction_id is None:
            self.stats.duplicates += 1
            return
        self.stats.stored += 1
        await self.queue.put(interaction_id)

    async def _store(self, item: Inbound) -> int | None:
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
                return await self.inbound.record(item)
        raise AssertionError("unreachable")
