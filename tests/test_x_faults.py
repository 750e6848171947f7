"""429 storms, 5xx bursts, timeouts, broken JSON and refused tokens: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from datetime import UTC, datetime, timedelta

import pytest
from tenacity import RetryCallState

from bot.errors import AuthError, ConfigError, RateLimited, TransientError
from connectors.base import Inbound, Outbound
from connectors.x.transport import Credentials, XApi
from tests.sims.x_fixture import sim
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import Store, drain, make_connector, x_settings

__all__ = ["sim"]  # the fixture, re-exported for pytest


async def test_429_storm_loses_and_duplicates_nothing(sim: XSim) -> None:
    mentions = [sim.state.add_mention(f"u{n}", f"m{n}") for n in range(12)]
    dms = [sim.state.add_dm(f"d{n}", f"dm{n}") for n in range(3)]
    sim.inject("/2/users/*/mentions", status=429, times=3, reset_in=0.0)
    sim.inject("/2/dm_events", status=429, times=2, reset_in=0.0)
    store = Store()
    connector = make_connector(sim, store, page_size=5)
    await connector.connect()

    await drain(connector, store)

    assert set(store.items) == {t.id for t in mentions} | {e.id for e in dms}
    assert store.duplicates == []
    health = connector.health()
    assert health.rate_limit_waits == 5
    assert health.rate_limit_reset is not None
    assert health.state == "ok"  # recovered


async def test_429_mid_pagination_restarts_the_batch_without_duplicates(sim: XSim) -> None:
    mentions = [sim.state.add_mention(f"u{n}", f"m{n}") for n in range(12)]
    store = Store()
    connector = make_connector(sim, store, page_size=5, dms=False, retry_attempts=1)
    await connector.connect()
    # The second page is refused and retries are exhausted: the whole poll fails...
    sim.inject("/2/users/*/mentions", status=429, times=1, reset_in=0.0)
    sim.state.add_dm("z", "unread")  # (dms disabled: not part of this test)
    with pytest.raises(RateLimited):
        await drain(connector, store)
    assert store.items == {}
    # ...and the next poll hands over every item once.
    await drain(connector, store)
    assert set(store.items) == {t.id for t in mentions} and store.duplicates == []


async def test_503_burst_loses_and_duplicates_nothing(sim: XSim) -> None:
    mentions = [sim.state.add_mention(f"u{n}", f"m{n}") for n in range(8)]
    dm = sim.state.add_dm("dee", "hello")
    sim.inject("/2/users/*/mentions", status=503, times=3)
    sim.inject("/2/dm_events", status=500, times=2)
    store = Store()
    connector = make_connector(sim, store, page_size=5)
    await connector.connect()

    await drain(connector, store)

    assert set(store.items) == {t.id for t in mentions} | {dm.id}
    assert store.duplicates == []
    assert connector.health().errors >= 5


@pytest.mark.parametrize("kind", ["slow", "truncate", "garbage", "drop"])
async def test_timeouts_and_broken_answers_are_retried(sim: XSim, kind: str) -> None:
    mention = sim.state.add_mention("vic", "are you there")
    sim.inject("/2/users/*/mentions", kind=kind, delay=2.0)
    store = Store()
    connector = make_connector(sim, store, dms=False, request_timeout_seconds=0.3)
    await connector.connect()

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [mention.id]
    assert sim.count("/2/users/*/mentions") == 2


async def test_outage_longer_than_the_retries_does_not_stop_following(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.inject("/2/users/*/mentions", status=503, times=9)
    mention = sim.state.add_mention("wes", "anyone?")
    store = Store()
    connector = make_connector(sim, store, dms=False, retry_attempts=2)
    await connector.connect()

    async def first_item() -> Inbound:
        async with aclosing(connector.listen(follow=True)) as stream:  # type: ignore[type-var]
            async for item in stream:
                return item
        raise AssertionError("listen ended")

    item = await asyncio.wait_for(first_item(), timeout=30)

    assert item.external_id == mention.id
    assert "mentions not read this time" in caplog.text
    assert connector.health().state == "ok"


async def test_expired_token_marks_health_down_and_raises_auth_error(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_mention("xan", "hello")
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()
    sim.token_valid = False

    with pytest.raises(AuthError):
        await drain(connector, store)

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "refused our credentials" in caplog.text and "X_BEARER_TOKEN" in caplog.text
    assert store.items == {}
    for secret in sim.env().values():
        assert secret not in caplog.text
        assert secret not in str(health)


async def test_wrong_consumer_secret_fails_the_oauth1_signature(
    sim: XSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X_CONSUMER_SECRET", "not-the-right-one")
    connector = make_connector(sim, Store(), user_id=None)  # connect asks /2/users/me

    with pytest.raises(AuthError):
        await connector.connect()
    assert connector.health().token_valid is False


async def test_missing_credentials_name_the_variable_not_the_value(
    sim: XSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("X_ACCESS_TOKEN_SECRET")
    connector = make_connector(sim, Store())

    with pytest.raises(ConfigError) as caught:
        await connector.connect()

    assert "X_ACCESS_TOKEN_SECRET" in str(caught.value)
    assert all(value not in str(caught.value) for value in sim.env().values())
    assert connector.health().state == "down"


async def test_without_a_bearer_token_reads_use_the_user_context(
    sim: XSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("X_BEARER_TOKEN")
    mention = sim.state.add_mention("yul", "oauth1 only")
    store = Store()
    connector = make_connector(sim, store, user_id=None, handle=None)
    await connector.connect()

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [mention.id]
    assert sim.count("/2/users/me") == 1


async def test_debug_logging_of_every_library_never_shows_a_credential(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # tweepy, requests-oauthlib, oauthlib, urllib3 all talk
    sim.state.add_mention("zed", "debugging")
    sim.state.add_dm("zed", "and a DM")
    store = Store()
    connector = make_connector(sim, store, user_id=None)  # users/me: user context too
    await connector.connect()

    for item in await drain(connector, store):
        await connector.send(
            Outbound(
                channel="x",
                kind=item.kind,
                thread=item.thread,
                text=f"ok {item.external_id}",
                in_reply_to=item.external_id,
                recipient_id=item.author.id,
                idempotency_key=item.external_id,
            )
        )

    assert len(sim.sent) == 2
    assert "Authorization" in caplog.text and "oauth_signature" in caplog.text  # they did log
    for name, secret in sim.env().items():
        assert secret not in caplog.text, name


def _state_after(exc: BaseException, attempt: int = 1) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


def test_a_429_waits_for_the_announced_reset_within_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("X_CONSUMER_KEY", "X_CONSUMER_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        monkeypatch.setenv(name, "v")
    sim = XSim()
    settings = x_settings(
        sim, rate_limit_max_wait_seconds=900, backoff_initial_seconds=0.5, backoff_max_seconds=5
    )
    api = XApi(settings, Credentials.from_env(settings, "x"), make_connector(sim, Store()).health())
    soon = datetime.now(UTC) + timedelta(seconds=120)

    waited = api.wait(_state_after(RateLimited("429", reset_at=soon)))
    past = api.wait(
        _state_after(RateLimited("429", reset_at=datetime.now(UTC) - timedelta(hours=1)))
    )
    far = api.wait(_state_after(RateLimited("429", reset_at=soon + timedelta(hours=2))))
    backoff = api.wait(_state_after(TransientError("503"), attempt=3))

    assert 119 <= waited <= 122  # until the reset, plus its one-second resolution
    assert past == 0.5  # never a busy loop: at least the initial backoff
    assert far == 900  # capped: look again after the cap
    assert 0.5 <= backoff <= settings.backoff_max_seconds
    api.close()


async def test_reconnect_after_refused_token_checks_it_again_and_keeps_positions(
    sim: XSim,
) -> None:
    first = sim.state.add_mention("abe", "one")
    store = Store()
    connector = make_connector(sim, store, dms=False)
    await connector.connect()
    assert [i.external_id for i in await drain(connector, store)] == [first.id]
    sim.token_valid = False
    with pytest.raises(AuthError):
        await drain(connector, store)
    with pytest.raises(AuthError):  # the daemon's reconnect: still refused
        await connector.connect()
    assert connector.health().state == "down"

    sim.token_valid = True  # the operator fixed it
    await connector.connect()
    second = sim.state.add_mention("abe", "two")
    got = await drain(connector, store)

    assert connector.health().state == "ok" and connector.health().token_valid is True
    assert [i.external_id for i in got] == [second.id]  # position kept in memory
    assert sim.count("/2/users/me") == 2
