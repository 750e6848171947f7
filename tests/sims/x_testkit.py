"""Test-side helpers for the X connector: a cursor store and a tiny stand-in for the daemon.

``Store`` does what the daemon promises the connector: it keeps each Inbound once (by
external id, counting repeats so tests can assert "no duplicate") and stores its cursor in
the same step, which is what a restarted connector reads back.
"""

from __future__ import annotations

from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from connectors.base import ConnectorContext, Inbound
from connectors.x import XConnector, XSettings
from tests.sims.x_sim import XSim

FAST = {
    "poll_interval_seconds": 0.01,
    "request_timeout_seconds": 10.0,
    "retry_attempts": 4,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
    "rate_limit_max_wait_seconds": 0.05,
    "initial_lookback_hours": 1.0,
}


@dataclass
class Store:
    """Messages and cursors, as the daemon would commit them together."""

    cursors: dict[tuple[str, str], str] = field(default_factory=dict)
    items: dict[str, Inbound] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)

    async def get_cursor(self, channel: str, key: str) -> str | None:
        return self.cursors.get((channel, key))

    def commit(self, item: Inbound) -> None:
        self.seen[item.external_id] += 1
        self.items.setdefault(item.external_id, item)
        if item.cursor is not None:
            self.cursors[(item.channel, item.cursor.key)] = item.cursor.value

    @property
    def duplicates(self) -> list[str]:
        return [ident for ident, count in self.seen.items() if count > 1]


def x_settings(sim: XSim, **overrides: Any) -> XSettings:
    values: dict[str, Any] = {
        "api_base_url": sim.base_url,
        "user_id": sim.state.our_id,
        "handle": sim.state.our_username,
        **FAST,
        **overrides,
    }
    return XSettings(**values)


def make_connector(sim: XSim, store: Store, name: str = "x", **overrides: Any) -> XConnector:
    return XConnector(x_settings(sim, **overrides), ConnectorContext(name, store))


async def drain(connector: XConnector, store: Store, limit: int | None = None) -> list[Inbound]:
    """One ``listen(follow=False)`` pass, committing each item like the daemon (``limit``
    stops early, as a crash after that many commits would)."""
    got: list[Inbound] = []
    async with aclosing(connector.listen(follow=False)) as stream:  # type: ignore[type-var]
        async for item in stream:
            store.commit(item)
            await connector.committed(item)
            got.append(item)
            if limit is not None and len(got) >= limit:
                break
    return got
