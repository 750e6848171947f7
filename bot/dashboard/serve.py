"""Running the dashboard: standalone (`socialbot dashboard`) or inside the daemon (a Service)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from bot.config import Config
from bot.dashboard.app import AccessLog, make_app
from bot.dashboard.settings import DashboardSettings, dashboard_token
from responders.calendar import BusinessCalendar
from storage.db import Database

if TYPE_CHECKING:
    from bot.daemon import Daemon

log = logging.getLogger(__name__)


class Dashboard:
    """The web server around make_app(); ``bound_port`` tells the port when 0 was asked."""

    name = "dashboard"

    def __init__(
        self,
        db: Database,
        calendar: BusinessCalendar,
        settings: DashboardSettings,
        token: str,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        self.app = make_app(db, calendar, settings, token)
        self.host = host or settings.host
        self.port = settings.port if port is None else port
        self.bound_port: int | None = None
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"Dashboard(host={self.host!r}, port={self.port})"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log_class=AccessLog)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses
        self.bound_port = int(addresses[0][1]) if addresses else self.port
        log.info("dashboard on http://%s:%s/", self.host, self.bound_port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self) -> None:
        """Serve until cancelled (the daemon's Service protocol)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()


async def serve_forever(config: Config, host: str | None, port: int | None) -> None:
    """`socialbot dashboard`: refuses to start without a token, serves until Ctrl-C."""
    token = dashboard_token()
    db = Database(config.database_url)
    try:
        if config.bot.auto_migrate:
            await db.upgrade()
        server = Dashboard(
            db, BusinessCalendar(config.calendar), config.dashboard, token, host, port
        )
        await server.run()
    finally:
        await db.close()


def build_dashboard(daemon: Daemon) -> Dashboard | None:
    """The daemon's dashboard when ``[dashboard] enabled = true`` (then a token is required)."""
    settings = daemon.config.dashboard
    if not settings.enabled:
        return None
    return Dashboard(
        daemon.storage.db, BusinessCalendar(daemon.config.calendar), settings, dashboard_token()
    )
