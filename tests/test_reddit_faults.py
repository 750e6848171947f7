"""Reddit under stress: 429 storms, 5xx bursts, timeouts, bad bodies, expired and revoked tokens."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.errors import AuthError, ConfigError, ConnectorError, TransientError
from connectors.base import Inbound, Outbound
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_testkit import ENV, drain, make_connector, reddit_env, sim

__all__ = ["reddit_env", "sim"]  # fixtures

pytestmark = pytest.mark.usefixtures("reddit_env")


def reply_to(item: Inbound, key: str) -> Outbound:
    return Outbound(item.channel, item.kind, item.thread, f"ack {key}", item.external_id, None, key)


async def test_429_storm_and_503_burst_lose_nothing_and_duplicate_nothing(sim: RedditSim) -> None:
    names = [sim.add_inbox("username_mention", f"user{i}", f"help {i}") for i in range(5)]
    connector = make_connector(sim, retry_attempts=8)
    await connector.connect()
    sim.inject("429", path="/message/unread", times=2, reset=1)
    sim.inject("status", path="/message/unread", status=503, times=3)
    sim.inject("status", path="/api/read_message", status=503, times=2)

    items = await drain(connector)
    sim.inject("status", path="/api/comment", status=503, times=2)
    sim.inject("429", path="/api/comment", times=1, reset=1)
    for item in items:
        await connector.send(reply_to(item, item.external_id))
    again = await drain(connector)

    assert [i.external_id for i in items] == names
    assert again == []
    assert sim.unread() == []
    assert sorted(s["thing_id"] for s in sim.sent) == sorted(names)  # one reply each
    health = connector.health()
    assert health.rate_limit_waits == 3 and health.state == "ok"
    await connector.close()


async def test_timeout_is_retried(sim: RedditSim) -> None:
    name = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim, request_timeout=0.3)
    await connector.connect()
    sim.inject("slow", path="/message/unread", delay=1.0)

    items = await drain(connector)

    assert [i.external_id for i in items] == [name]
    assert sim.calls("/message/unread") == 2
    await connector.close()


async def test_truncated_listing_is_retried_then_skipped_without_stopping(
    sim: RedditSim, caplog: pytest.LogCaptureFixture
) -> None:
    name = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim, retry_attempts=2)
    await connector.connect()
    sim.inject("truncate", path="/message/unread", times=2)
    sim.inject("body", path="/message/unread", body='{"kind": "t1", "data": {}}', times=1)

    with caplog.at_level(logging.WARNING, logger="connectors.reddit"):
        with pytest.raises(TransientError):
            await drain(connector)  # --once: two bad bodies use up both attempts
        items = await drain(connector)  # malformed Listing, then a good one

    assert [i.external_id for i in items] == [name]
    assert any("not JSON" in r.getMessage() for r in caplog.records)
    assert any("malformed listing" in r.getMessage() for r in caplog.records)
    await connector.close()


async def test_following_listener_survives_an_outage(sim: RedditSim) -> None:
    connector = make_connector(sim, retry_attempts=1)
    await connector.connect()
    sim.inject("status", path="/message/unread", status=500, times=4)
    later = sim.add_inbox("username_mention", "alice", "after the outage")
    stream = connector.listen(follow=True)

    item = await asyncio.wait_for(anext(stream), timeout=10)

    assert item.external_id == later
    assert connector.health().state == "ok"
    await stream.aclose()
    await connector.close()


async def test_expired_token_is_renewed_transparently(sim: RedditSim) -> None:
    name = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim)
    await connector.connect()
    sim.expire_tokens()

    items = await drain(connector)

    assert [i.external_id for i in items] == [name]
    assert sim.calls("/api/v1/access_token") == 2
    assert connector.health().token_valid is True
    await connector.close()


async def test_revoked_credentials_mark_health_down_without_leaking_secrets(
    sim: RedditSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim)
    await connector.connect()
    sim.revoke_credentials()

    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as caught:
        await drain(connector)

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "401" in str(caught.value)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("REDDIT_CLIENT_SECRET" in message for message in errors)  # names the variable
    everything = caplog.text + str(caught.value) + repr(connector) + str(health)
    assert all(secret not in everything for secret in ENV.values())
    await connector.close()


async def test_invalid_grant_at_connect_is_an_auth_error(sim: RedditSim) -> None:
    sim.state.password = "changed-by-someone"
    connector = make_connector(sim)

    with pytest.raises(AuthError, match="invalid_grant"):
        await connector.connect()

    assert connector.health().token_valid is False
    await connector.close()


async def test_missing_credentials_name_the_variable(
    sim: RedditSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDDIT_PASSWORD")
    connector = make_connector(sim, password_env="REDDIT_PASSWORD")

    with pytest.raises(ConfigError, match="REDDIT_PASSWORD") as caught:
        await connector.connect()

    assert ENV["REDDIT_CLIENT_SECRET"] not in str(caught.value)
    assert sim.calls("/") == 0
    assert connector.health().state == "down" and connector.health().token_valid is False


async def test_refresh_token_authentication(sim: RedditSim) -> None:
    name = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim, auth="refresh_token")
    await connector.connect()

    items = await drain(connector)

    assert [i.external_id for i in items] == [name]
    await connector.close()


async def test_private_subreddit_does_not_stop_the_inbox_or_mark_auth_down(sim: RedditSim) -> None:
    name = sim.add_inbox("username_mention", "alice", "help")
    sim.inject("status", path="/r/secret", status=403, times=100)
    connector = make_connector(sim, subreddits=("secret",), keywords=("acme",))
    await connector.connect()
    items: list[Inbound] = []

    with pytest.raises(ConnectorError, match="403"):
        async for item in connector.listen(follow=False):
            items.append(item)

    assert [i.external_id for i in items] == [name]
    assert connector.health().token_valid is True
    await connector.close()


async def test_token_endpoint_rate_limit_is_waited_out(sim: RedditSim) -> None:
    sim.inject("429", path="/api/v1/access_token", reset=1)
    connector = make_connector(sim)

    await connector.connect()

    assert sim.calls("/api/v1/access_token") == 2
    assert connector.health().rate_limit_waits == 1
    await connector.close()


async def test_unreachable_reddit_is_transient_not_an_auth_failure(sim: RedditSim) -> None:
    connector = make_connector(sim, retry_attempts=2)
    await connector.connect()
    await sim.stop()  # connection refused from now on

    with pytest.raises(TransientError, match="ConnectionError"):
        await drain(connector)

    health = connector.health()
    assert health.state == "degraded" and health.token_valid is True
    assert health.last_error is not None and "ConnectionError" in health.last_error
    await connector.close()


async def test_spent_rate_budget_is_waited_out_before_reddit_says_429(sim: RedditSim) -> None:
    sim.state.budget, sim.state.window = 3, 1.0
    names = [sim.add_inbox("message", f"user{i}", f"hi {i}") for i in range(4)]
    connector = make_connector(sim, page_size=1, max_pages=4)
    await connector.connect()  # 1 request; the next 2 spend the budget

    items = await drain(connector, commit=False)

    assert [i.external_id for i in items] == names
    assert sim.state.throttled == 0  # we waited for the reset instead of hitting the wall
    assert connector.health().rate_limit_waits >= 1
    await connector.close()
