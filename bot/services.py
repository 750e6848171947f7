"""The daemon's optional background services, built from the config.

One explicit list: each feature (SLA scheduler, dashboard, health/metrics endpoint) adds its
constructor here; a constructor returns None when its feature is switched off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.dashboard.serve import build_dashboard
from bot.desk.service import build_desk
from bot.health import build_health
from bot.retention import build_retention
from bot.scheduler import build_scheduler

if TYPE_CHECKING:
    from bot.daemon import Daemon, Service

ServiceBuilder = Callable[["Daemon"], "Service | None"]


BUILDERS: list[ServiceBuilder] = [
    build_health,
    build_retention,
    build_scheduler,
    build_desk,
    build_dashboard,
]


def build_services(daemon: Daemon) -> list[Service]:
    built = (builder(daemon) for builder in BUILDERS)
    return [service for service in built if service is not None]
