"""The real daemon, built from config through the entry point, against the fake Discord."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.daemon import Daemon
from connectors.discord import DiscordConnector
from storage.models import Interaction, OutboxMessage
from tests.sims.discord_bot import GUARD, TOKEN_ENV, sim
from tests.sims.discord_sim import FakeDiscord
from tests.support.harness import count_rows, make_config
from tests.support.stub_scorer import StubScorer

__all__ = ["sim"]


@pytest.fixture
def support(sim: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(TOKEN_ENV, sim.token)
    return sim.add_channel("support")


async def eventually(predicate: Callable[[], bool]) -> None:
    """Poll daemon state that has no event to wait on; a hang guard, not a timing check."""
    async with asyncio.timeout(GUARD):
        while not predicate():  # noqa: ASYNC110 - RunStats has no event to wait on
            await asyncio.sleep(0.02)


def discord_config(tmp_path: Path, sim: FakeDiscord, support: int, **settings: Any) -> Config:
    section = {
        "token_env": TOKEN_ENV,
        "api_base": sim.api_base,
        "gateway_url": sim.gateway_url,
        "channel_ids": [str(support)],
        "guild_ready_timeout": 0.05,
        "retry_initial_wait": 0.05,
        "retry_max_wait": 0.2,
        **settings,
    }
    return make_config(tmp_path, connectors={"discord": section})


async def test_once_acknowledges_a_mention_in_place_and_only_once(
    tmp_path: Path, sim: FakeDiscord, support: int
) -> None:
    alice = sim.add_user("alice")
    mention = await sim.post(support, alice, "my order never arrived", mention_bot=True)
    config = discord_config(tmp_path, sim, support)

    stats = await Daemon(config, scorer=StubScorer()).run(once=True, install_signals=False)

    assert len(sim.sent) == 1
    ack = sim.sent[0]
    assert ack["channel_id"] == str(support)
    assert ack["message_reference"]["message_id"] == mention["id"]
    assert stats.tickets_opened == 1
    assert await count_rows(config, OutboxMessage, status="sent") == 1

    await Daemon(config, scorer=StubScorer()).run(once=True, install_signals=False)
    assert len(sim.sent) == 1  # the stored cursor: nothing new, nothing answered twice


async def test_daemon_answers_a_live_mention_and_a_dm_once_each(
    tmp_path: Path, sim: FakeDiscord, support: int
) -> None:
    config = discord_config(tmp_path, sim, support)
    daemon = Daemon(config, scorer=StubScorer())
    running = asyncio.create_task(daemon.run(install_signals=False))
    connector = daemon.connectors[0]
    assert isinstance(connector, DiscordConnector)
    await sim.wait_until(lambda: sim.live_sessions() == 1, "the daemon's gateway session")
    await asyncio.wait_for(connector.wait_ready(), GUARD)

    statusbot = sim.add_user("statusbot", bot=True)
    from_bot = await sim.post(support, statusbot, "deploy broken, never mind", mention_bot=True)
    mention = await sim.post(support, sim.add_user("bob"), "the app is broken", mention_bot=True)
    dm = await sim.dm(sim.add_user("carol"), "where is my refund?")
    await sim.wait_until(lambda: len(sim.sent) >= 2, "two acknowledgements")
    await eventually(lambda: sum(daemon.stats.replies_sent.values()) >= 2)  # marked sent
    await eventually(lambda: daemon.stats.ignored >= 1)  # the other bot, stored not answered
    daemon.request_stop()
    await asyncio.wait_for(running, GUARD)

    replies = {m["message_reference"]["message_id"]: m["channel_id"] for m in sim.sent}
    assert replies == {mention["id"]: str(support), dm["id"]: dm["channel_id"]}
    assert len(sim.sent) == 2
    ignored = await count_rows(config, Interaction, direction="in", status="ignored")
    assert ignored == 1 == await count_rows(config, Interaction, external_id=from_bot["id"])
    assert await count_rows(config, Interaction, direction="out") == 2
