"""Helpers for the Reddit connector tests: a connector wired to a RedditSim, cursors in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.base import ConnectorContext, Cursor, Inbound
from connectors.reddit import RedditConnector, RedditSettings
from tests.sims.reddit_sim import RedditSim

ENV = {
    "REDDIT_CLIENT_ID": "sim-client-id",
    "REDDIT_CLIENT_SECRET": "sim-client-secret",
    "REDDIT_PASSWORD": "sim-password",
    "REDDIT_REFRESH_TOKEN": "sim-refresh-token",
}


class MemoryCursors:
    """The daemon's cursor table, reduced to a dict: store() plays the storage commit."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get_cursor(self, channel: str, key: str) -> str | None:
        return self.values.get((channel, key))

    def store(self, channel: str, cursor: Cursor | None) -> None:
        if cursor is not None:
            self.values[(channel, cursor.key)] = cursor.value


def settings_for(sim: RedditSim, **overrides: Any) -> RedditSettings:
    """Settings pointing praw at the simulator, with waits short enough for tests."""
    return settings_at(sim.url, sim.state.username, **overrides)


def settings_at(url: str, username: str = "brand_support", **overrides: Any) -> RedditSettings:
    """Settings for a simulator at ``url`` (in this process or another one)."""
    values: dict[str, Any] = {
        "username": username,
        "user_agent": "test:socialbot:0.1 (by u/brand_support)",
        "oauth_url": url,
        "reddit_url": url,
        "poll_interval": 0.05,
        "request_timeout": 2.0,
        "retry_attempts": 6,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "rate_limit_max_wait": 5.0,
    }
    values.update(overrides)
    return RedditSettings(**values)


def make_connector(
    sim: RedditSim, cursors: MemoryCursors | None = None, name: str = "reddit", **overrides: Any
) -> RedditConnector:
    return RedditConnector(
        settings_for(sim, **overrides), ConnectorContext(name, cursors or MemoryCursors())
    )


async def drain(
    connector: RedditConnector, cursors: MemoryCursors | None = None, *, commit: bool = True
) -> list[Inbound]:
    """``listen(follow=False)`` like ``socialbot run --once``: store, then commit each item."""
    items = []
    async for item in connector.listen(follow=False):
        items.append(item)
        if cursors is not None:
            cursors.store(connector.name, item.cursor)
        if commit:
            await connector.committed(item)
    return items


@pytest.fixture
def reddit_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return ENV


@pytest.fixture
async def sim() -> AsyncIterator[RedditSim]:
    async with RedditSim() as running:
        yield running
