"""Health and metrics over HTTP: /healthz for people and probes, /metrics for Prometheus.

Read-only and customer-data-free: connector states, counters, queue depth. Error strings pass
through the same secret masking as the logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.logs import RedactLogs, secret_values
from storage.models import OutboxMessage, Ticket

if TYPE_CHECKING:
    from bot.daemon import Daemon

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def snapshot(daemon: Daemon) -> dict[str, Any]:
    """Everything /healthz shows; also what `socialbot status` prints.

    Errors are masked as in the logs (secrets, customers' e-mail addresses): an SMTP refusal
    quotes the customer's address, and /healthz answers to whatever scrapes it."""
    redact = RedactLogs(secret_values()).redact
    connectors = []
    for connector in daemon.connectors:
        h = connector.health()
        connectors.append(
            {
                "name": h.name,
                "state": h.state,
                "last_success": _iso(h.last_success),
                "last_error": redact(h.last_error) if h.last_error else None,
                "last_error_at": _iso(h.last_error_at),
                "rate_limit_remaining": h.rate_limit_remaining,
                "rate_limit_reset": _iso(h.rate_limit_reset),
                "token_valid": h.token_valid,
                "messages_in": h.messages_in,
                "messages_out": h.messages_out,
                "errors": h.errors,
                "rate_limit_waits": h.rate_limit_waits,
            }
        )
    db = daemon.storage.db
    async with db.session() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "sending")))
        )
        failed = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed")
        )
        breaches = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.sla_breached_at.is_not(None))
        )
    ok = all(c["state"] in ("ok", "starting") for c in connectors)
    return {
        "status": "ok" if ok else "degraded",
        "connectors": connectors,
        "queue_depth": daemon.queue.depth(),
        "outbox_pending": int(pending or 0),
        "outbox_failed": int(failed or 0),
        "sla_breaches": int(breaches or 0),
        "processed": daemon.stats.processed,
        "database_retries": daemon.stats.database_retries,
        "sender_errors": daemon.stats.sender_errors,
    }


class DaemonCollector(Collector):
    """Builds metrics from a snapshot taken at scrape time (no global registry)."""

    def __init__(self) -> None:
        self.latest: dict[str, Any] = {}

    def collect(self) -> Iterator[Metric]:
        snap = self.latest
        per_connector = {
            "messages_in": CounterMetricFamily(
                "socialbot_messages_in", "Messages read per connector", labels=["channel"]
            ),
            "messages_out": CounterMetricFamily(
                "socialbot_messages_out", "Replies sent per connector", labels=["channel"]
            ),
            "errors": CounterMetricFamily(
                "socialbot_connector_errors", "Connector errors", labels=["channel"]
            ),
            "rate_limit_waits": CounterMetricFamily(
                "socialbot_rate_limit_waits", "Waits for a platform rate limit", labels=["channel"]
            ),
        }
        up = GaugeMetricFamily(
            "socialbot_connector_up", "1 when the connector is healthy", labels=["channel"]
        )
        for c in snap.get("connectors", []):
            for key, family in per_connector.items():
                family.add_metric([c["name"]], c[key])
            up.add_metric([c["name"]], 1.0 if c["state"] in ("ok", "starting") else 0.0)
        yield from per_connector.values()
        yield up
        for key, text in (
            ("queue_depth", "Messages waiting for a worker"),
            ("outbox_pending", "Replies waiting to be sent"),
            ("outbox_failed", "Replies that failed for good"),
        ):
            yield GaugeMetricFamily(f"socialbot_{key}", text, value=snap.get(key, 0))
        yield CounterMetricFamily(
            "socialbot_database_retries",
            "Waits for a locked, full or unreachable database",
            value=snap.get("database_retries", 0),
        )
        yield CounterMetricFamily(
            "socialbot_sender_errors",
            "Unexpected errors the reply sender survived (see the log)",
            value=snap.get("sender_errors", 0),
        )
        yield CounterMetricFamily(
            "socialbot_sla_breaches",
            "Tickets that breached the SLA",
            value=snap.get("sla_breaches", 0),
        )


class HealthService:
    name = "health"

    def __init__(self, daemon: Daemon, host: str, port: int) -> None:
        self.daemon = daemon
        self.host = host
        self.port = port
        self.bound_port: int | None = None
        self.collector = DaemonCollector()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)

    async def healthz(self, request: web.Request) -> web.Response:
        snap = await snapshot(self.daemon)
        return web.json_response(snap, status=200 if snap["status"] == "ok" else 503)

    async def livez(self, request: web.Request) -> web.Response:
        """The process answers (its event loop runs): for liveness probes. /healthz is 503
        while a connector is down or degraded — a reason to alert, not to restart."""
        return web.json_response({"status": "alive"})

    async def metrics(self, request: web.Request) -> web.Response:
        self.collector.latest = await snapshot(self.daemon)
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/livez", self.livez)
        app.router.add_get("/metrics", self.metrics)
        return app

    async def run(self) -> None:
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.bound_port = int(runner.addresses[0][1]) if runner.addresses else self.port
        log.info("health endpoint on http://%s:%s/healthz", self.host, self.bound_port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


def build_health(daemon: Daemon) -> HealthService | None:
    settings = daemon.config.health
    return HealthService(daemon, settings.host, settings.port) if settings.enabled else None
