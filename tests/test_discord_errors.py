"""Tokens, rate limits and server errors: the connector degrades clearly, never crashes."""

from __future__ import annotations

import logging

import pytest

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.base import ConnectorContext, Inbound, Kind, Outbound
from connectors.discord import DiscordConnector
from tests.sims.discord_bot import (
    TOKEN_ENV,
    Launcher,
    MemoryCursors,
    Running,
    launch,
    settings_for,
    sim,
)
from tests.sims.discord_sim import FakeDiscord

__all__ = ["launch", "sim"]

POST_MESSAGE = r"/channels/\d+/messages"


@pytest.fixture
def support(sim: FakeDiscord) -> int:
    return sim.add_channel("support")


@pytest.fixture
async def bot(support: int, launch: Launcher) -> Running:
    running = launch(channel_ids=(support,))
    running.start()
    await running.ready()
    return running


async def mention(sim: FakeDiscord, support: int, bot: Running) -> Inbound:
    await sim.post(support, sim.add_user("alice"), "help", mention_bot=True)
    return await bot.next()


def answer(item: Inbound, key: str = "k-1") -> Outbound:
    return Outbound(
        channel=item.channel,
        kind=Kind.MENTION,
        thread=item.thread,
        text="We are on it.",
        in_reply_to=item.external_id,
        recipient_id=item.author.id,
        idempotency_key=key,
    )


def posts(sim: FakeDiscord) -> int:
    return sum(1 for method, path in sim.requests if method == "POST" and "/messages" in path)


async def test_wrong_token_is_an_auth_error_with_health_down(
    sim: FakeDiscord, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-token-do-not-log"
    monkeypatch.setenv(TOKEN_ENV, secret)
    connector = DiscordConnector(settings_for(sim), ConnectorContext("discord", MemoryCursors()))

    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as raised:
        await connector.connect()

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "401" in str(raised.value)
    assert any(
        r.levelno == logging.ERROR and "rejected the bot token" in r.getMessage()
        for r in caplog.records
    )
    assert (
        secret not in caplog.text
        and secret not in str(raised.value)
        and secret not in repr(connector)
    )
    assert [path for _, path in sim.requests] == ["/users/@me"]  # 401 is not retried
    await connector.close()


async def test_missing_token_variable_names_the_variable(
    sim: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    connector = DiscordConnector(settings_for(sim), ConnectorContext("discord", MemoryCursors()))

    with pytest.raises(AuthError, match=TOKEN_ENV):
        await connector.connect()
    assert connector.health().state == "down"
    assert sim.requests == []


async def test_429_is_waited_out_and_shown_in_health(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    item = await mention(sim, support, bot)
    sim.fail("POST", POST_MESSAGE, 429, retry_after=0.2)

    ref = await bot.connector.send(answer(item))

    assert [m["id"] for m in sim.sent] == [ref.external_id]
    assert posts(sim) == 2
    health = bot.connector.health()
    assert health.rate_limit_waits == 1
    assert health.rate_limit_remaining == 4  # from the successful answer's headers
    assert health.rate_limit_reset is not None


async def test_503_is_retried_with_backoff(sim: FakeDiscord, support: int, bot: Running) -> None:
    item = await mention(sim, support, bot)
    sim.fail("POST", POST_MESSAGE, 503, times=2)

    ref = await bot.connector.send(answer(item))

    assert [m["id"] for m in sim.sent] == [ref.external_id]
    assert posts(sim) == 3


async def test_lost_response_after_a_write_does_not_post_twice(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    item = await mention(sim, support, bot)
    sim.fail("POST", POST_MESSAGE, 503, after_commit=True)  # posted, but the answer is lost

    ref = await bot.connector.send(answer(item))

    assert posts(sim) == 2
    assert [m["id"] for m in sim.sent] == [ref.external_id]  # the nonce made the retry a no-op


async def test_persistent_5xx_gives_up_with_transient_error(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    item = await mention(sim, support, bot)
    sim.fail("POST", POST_MESSAGE, 503, times=100)

    with pytest.raises(TransientError):
        await bot.connector.send(answer(item))

    assert posts(sim) == bot.connector.settings.retry_attempts
    assert sim.sent == []
    assert bot.connector.health().state == "degraded"


async def test_forbidden_is_not_retried(sim: FakeDiscord, support: int, bot: Running) -> None:
    item = await mention(sim, support, bot)
    sim.fail("POST", POST_MESSAGE, 403)

    with pytest.raises(ConnectorError) as raised:
        await bot.connector.send(answer(item))

    assert not isinstance(raised.value, TransientError)
    assert "403" in str(raised.value)
    assert posts(sim) == 1


async def test_history_5xx_during_backfill_is_retried(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    missed = await sim.post(support, sim.add_user("eve"), "while down", mention_bot=True)
    sim.fail("GET", POST_MESSAGE, 502, times=1)  # discord.py itself retries 502 once
    sim.fail("GET", POST_MESSAGE, 503, times=1)  # and we retry 503
    running = launch(channel_ids=(support,))
    running.start(follow=False)

    await running.finished()

    assert running.error is None
    assert [i.external_id for i in running.received] == [missed["id"]]
