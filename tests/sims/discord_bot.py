"""Test helpers: the real DiscordConnector pointed at the fake, consumed like the daemon does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from connectors.base import ConnectorContext, Inbound
from connectors.discord import DiscordConnector, DiscordSettings
from tests.sims.discord_sim import FakeDiscord

TOKEN_ENV = "SOCIALBOT_TEST_DISCORD_TOKEN"
GUARD = 15.0  # seconds before a wait gives up: a hang guard, never a timing assertion


class MemoryCursors:
    """The daemon's cursor table: written when an item is "stored", read on start."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get_cursor(self, channel: str, key: str) -> str | None:
        return self.values.get((channel, key))


def settings_for(sim: FakeDiscord, **overrides: Any) -> DiscordSettings:
    values: dict[str, Any] = {
        "token_env": TOKEN_ENV,
        "api_base": sim.api_base,
        "gateway_url": sim.gateway_url,
        "guild_ready_timeout": 0.05,
        "retry_initial_wait": 0.05,
        "retry_max_wait": 0.2,
        **overrides,
    }
    return DiscordSettings(**values)


class Running:
    """A connector whose ``listen()`` is drained by a task, storing cursors as it goes."""

    def __init__(self, connector: DiscordConnector, cursors: MemoryCursors) -> None:
        self.connector = connector
        self.cursors = cursors
        self.items: asyncio.Queue[Inbound] = asyncio.Queue()
        self.received: list[Inbound] = []
        self.error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, *, follow: bool = True) -> None:
        self.error = None
        self._task = asyncio.create_task(self._drain(follow))

    async def _drain(self, follow: bool) -> None:
        try:
            async for item in self.connector.listen(follow=follow):
                if item.cursor is not None:  # what storage.record() does in one transaction
                    self.cursors.values[(item.channel, item.cursor.key)] = item.cursor.value
                await self.connector.committed(item)
                self.received.append(item)
                await self.items.put(item)
        except Exception as exc:
            self.error = exc

    async def next(self) -> Inbound:
        """The next inbound item; a guard timeout, not a timing assertion."""
        try:
            return await asyncio.wait_for(self.items.get(), GUARD)
        except TimeoutError:
            raise AssertionError(f"no inbound item (error={self.error!r})") from None

    async def finished(self) -> None:
        assert self._task is not None
        await asyncio.wait_for(self._task, GUARD)

    async def ready(self) -> None:
        await asyncio.wait_for(self.connector.wait_ready(), GUARD)

    def pending(self) -> list[Inbound]:
        """Items queued but not yet taken with next()."""
        out: list[Inbound] = []
        while not self.items.empty():
            out.append(self.items.get_nowait())
        return out

    async def stop(self) -> None:
        await self.connector.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@pytest.fixture
async def sim() -> AsyncIterator[FakeDiscord]:
    fake = await FakeDiscord().start()
    try:
        yield fake
    finally:
        await fake.close()


def make_connector(
    sim: FakeDiscord,
    monkeypatch: pytest.MonkeyPatch,
    cursors: MemoryCursors | None = None,
    *,
    name: str = "discord",
    **overrides: Any,
) -> Running:
    monkeypatch.setenv(TOKEN_ENV, sim.token)
    store = cursors or MemoryCursors()
    connector = DiscordConnector(settings_for(sim, **overrides), ConnectorContext(name, store))
    return Running(connector, store)


Launcher = Callable[..., Running]


@pytest.fixture
async def launch(sim: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Launcher]:
    """``launch(cursors=None, **settings)`` -> a Running connector, closed after the test."""
    made: list[Running] = []

    def make(cursors: MemoryCursors | None = None, **overrides: Any) -> Running:
        running = make_connector(sim, monkeypatch, cursors, **overrides)
        made.append(running)
        return running

    yield make
    for running in made:
        await running.stop()
