"""The retention schedule: blank message text older than `privacy.retention_days`."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from storage.db import Database
from storage.privacy import purge_text

if TYPE_CHECKING:
    from bot.daemon import Daemon

log = logging.getLogger(__name__)


class RetentionService:
    name = "retention"

    def __init__(self, db: Database, days: int, interval: timedelta) -> None:
        self.db = db
        self.days = days
        self.interval = interval

    async def purge_once(self, now: datetime | None = None) -> int:
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
        count = await purge_text(self.db, cutoff)
        if count:
            log.info(
                "retention: blanked the text of %d interaction(s) older than %d days",
                count,
                self.days,
            )
        return count

    async def run(self) -> None:
        while True:
            try:
                await self.purge_once()
            except Exception:
                log.exception("retention purge failed; retrying at the next interval")
            await asyncio.sleep(self.interval.total_seconds())


def build_retention(daemon: Daemon) -> RetentionService | None:
    settings = daemon.config.privacy
    if settings.retention_days <= 0:
        return None
    return RetentionService(
        daemon.storage.db, settings.retention_days, timedelta(hours=settings.purge_interval_hours)
    )
