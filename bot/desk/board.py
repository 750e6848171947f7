"""The staff board: pushes ticket cards and notices to wherever staff work.

Platform-neutral: a :class:`StaffPoster` (the Discord one lives in
``connectors/discord/staff.py``) turns cards and notices into messages. The board only
decides what is due and records what was posted, so a failed post is retried on the next
pass and a card is edited in place rather than posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol

from storage.staff import Notice, StaffRepo, TicketCard

log = logging.getLogger(__name__)

CARD_RETRY_CAP = 600.0  # seconds: a card the platform keeps refusing is retried this rarely


class StaffPoster(Protocol):
    async def post_card(self, card: TicketCard) -> str:
        """Post a new card (``card.message_id`` is None) or edit it; returns the message id."""
        ...

    async def post_notice(self, notice: Notice, card: TicketCard | None) -> str: ...


class StaffBoard:
    def __init__(self, repo: StaffRepo, poster: StaffPoster) -> None:
        self.repo = repo
        self.poster = poster
        self._wake = asyncio.Event()
        self._card_failures: dict[int, tuple[int, float]] = {}  # ticket -> (count, not before)

    def wake(self, ticket_id: int | None = None) -> None:
        self._wake.set()

    async def sync_once(self) -> int:
        """One pass: cards first (a notice may refer to one), then notices. Returns posts."""
        posted = 0
        for card in await self.repo.dirty_cards():
            if not self._card_due(card.id):
                continue
            try:
                message_id = await self.poster.post_card(card)
            except Exception as exc:  # one bad card must not block the others
                log.warning("staff card ticket=%s not posted: %s", card.id, exc)
                self._card_failed(card.id)
                continue
            self._card_failures.pop(card.id, None)
            await self.repo.card_synced(card.id, message_id, card.version)
            posted += 1
        for notice in await self.repo.pending_notices():
            try:
                message_id = await self.poster.post_notice(
                    notice, await self.repo.card(notice.ticket_id)
                )
            except Exception as exc:
                log.warning("staff notice %s (%s) not posted: %s", notice.id, notice.kind, exc)
                await self.repo.notice_failed(notice.id, str(exc))
                continue
            await self.repo.notice_sent(notice.id, message_id)
            posted += 1
        return posted

    def _card_due(self, ticket_id: int) -> bool:
        failed = self._card_failures.get(ticket_id)
        return failed is None or time.monotonic() >= failed[1]

    def _card_failed(self, ticket_id: int) -> None:
        """Back off a refused card (capped, doubling) so it cannot hammer the platform."""
        count = self._card_failures.get(ticket_id, (0, 0.0))[0] + 1
        pause = min(2.0**count, CARD_RETRY_CAP)
        self._card_failures[ticket_id] = (count, time.monotonic() + pause)

    async def run(self, interval: float) -> None:
        """Sync every ``interval`` seconds, or at once when woken by a desk action."""
        while True:
            self._wake.clear()
            try:
                await self.sync_once()
            except Exception:  # the database may be briefly unavailable: try next pass
                log.exception("staff board pass failed")
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the event is set, and this loop would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
