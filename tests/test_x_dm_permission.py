"""An X app without DM permission: a 403 on GET /2/dm_events pauses DMs, not the connector.

Many apps (Free/Basic tiers, or a user token generated before the DM permission was granted)
get 403 on /2/dm_events while mentions work. Mentions and searches must keep being read and
answered, health must say why DMs are not, and DMs come back by themselves once the
permission is fixed. A 401 anywhere, or a 403 on mentions, still means refused credentials.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import aclosing
from pathlib import Path

import pytest

import connectors.x.connector
from bot.errors import AuthError
from connectors.x.connector import DM_RETRY_SECONDS
from storage.models import Interaction
from tests.sims.x_sim import Fault, XSim
from tests.sims.x_testkit import Store, drain, make_connector
from tests.support.harness import count_rows
from tests.test_faults_connectors import FOREVER, Stack, answered, running, wait_for
from tests.test_x_e2e import run_once, x_config

ADVICE = ("Read and write and Direct message", "dms = false")


class Clock:
    """Stands in for the connector's monotonic clock: the DM pause passes when a test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> XSim:
    async with XSim() as running_sim:
        for name, value in running_sim.env().items():
            monkeypatch.setenv(name, value)
        yield running_sim


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(connectors.x.connector, "monotonic", fake)
    return fake


def refuse_dms(sim: XSim) -> Fault:
    """X's answer to an app whose permissions (or tier) do not cover DMs, until lifted."""
    return sim.inject("/2/dm_events", status=403, times=FOREVER)


def warnings_about_dms(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "refuses reading DMs" in r.getMessage()
    ]


async def test_dm_403_pauses_dms_while_mentions_and_searches_are_read(
    sim: XSim, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mention = sim.state.add_mention("alice", "my order never arrived")
    hit = sim.state.add_tweet("bob", "acme lost my parcel")  # found by the search, no @
    dm = sim.state.add_dm("carol", "refund please")
    refuse_dms(sim)
    store = Store()
    connector = make_connector(sim, store, search=True, search_queries=("acme",))
    await connector.connect()

    got = await drain(connector, store)

    assert {i.external_id for i in got} == {mention.id, hit.id}
    assert dm.id not in store.items
    health = connector.health()
    assert health.state == "degraded" and health.token_valid is True
    assert health.last_error is not None
    assert "DMs not read" in health.last_error and "HTTP 403" in health.last_error
    assert all(advice in health.last_error for advice in ADVICE)
    [warning] = warnings_about_dms(caplog)
    assert all(advice in warning for advice in ADVICE) and "X_ACCESS_TOKEN" in warning
    assert "refused our credentials" not in caplog.text
    assert sim.count("/2/dm_events") == 1  # a 403 is not retried like a 5xx

    # The next polls read new mentions and leave DMs alone until the pause is over.
    later = sim.state.add_mention("dave", "still waiting")
    assert [i.external_id for i in await drain(connector, store)] == [later.id]
    assert sim.count("/2/dm_events") == 1
    assert connector.health().state == "degraded"  # the mention read did not hide it
    assert len(warnings_about_dms(caplog)) == 1
    for secret in sim.env().values():
        assert secret not in caplog.text and secret not in str(connector.health())


async def test_dms_are_read_again_once_the_permission_is_fixed_and_the_pause_passes(
    sim: XSim, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.x.connector")
    dm = sim.state.add_dm("erin", "my card was charged twice")
    refusal = refuse_dms(sim)
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()
    await drain(connector, store)

    clock.now += DM_RETRY_SECONDS  # tried again while still refused: paused again, quietly
    await drain(connector, store)
    assert sim.count("/2/dm_events") == 2 and dm.id not in store.items
    assert len(warnings_about_dms(caplog)) == 1 and "DMs still refused" in caplog.text

    sim.faults.remove(refusal)  # the operator granted the permission, regenerated the token
    await drain(connector, store)
    assert sim.count("/2/dm_events") == 2  # not before the pause is over

    clock.now += DM_RETRY_SECONDS
    got = await drain(connector, store)

    assert [i.external_id for i in got] == [dm.id]
    health = connector.health()
    assert health.state == "ok" and health.last_error is None
    await drain(connector, store)  # DMs are polled every time again...
    assert sim.count("/2/dm_events") == 4
    assert caplog.text.count("DMs are read again") == 1  # ...and the recovery is logged once


async def test_401_on_dms_still_stops_the_connector(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("fred", "hello")
    sim.inject("/2/dm_events", status=401, times=FOREVER)
    connector = make_connector(sim, Store())
    await connector.connect()

    with pytest.raises(AuthError):
        async with aclosing(connector.listen(follow=True)) as stream:  # type: ignore[type-var]
            async for _ in stream:
                pass

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "refused our credentials on dm_events" in caplog.text
    assert warnings_about_dms(caplog) == []


async def test_403_on_mentions_still_stops_the_connector(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_mention("gina", "hello")
    sim.inject("/2/users/*/mentions", status=403, times=FOREVER)
    connector = make_connector(sim, Store())
    await connector.connect()

    with pytest.raises(AuthError):
        async with aclosing(connector.listen(follow=True)) as stream:  # type: ignore[type-var]
            async for _ in stream:
                pass

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "refused our credentials on mentions" in caplog.text
    assert sim.count("/2/dm_events") == 0  # the poll stopped at the refused source


async def test_daemon_once_answers_mentions_without_dm_permission(
    tmp_path: Path, sim: XSim
) -> None:
    mention = sim.state.add_mention("hana", "my order never arrived")
    dm = sim.state.add_dm("ivan", "my parcel is lost, refund please")
    refuse_dms(sim)
    config = x_config(tmp_path, sim)

    stats = await run_once(config)

    assert [s["in_reply_to_tweet_id"] for s in sim.sent] == [mention.id]
    assert stats.connector_errors == {}  # DMs paused: the connector did not give up
    assert await count_rows(config, Interaction, external_id=mention.id) == 1
    assert await count_rows(config, Interaction, external_id=dm.id) == 0


async def test_running_daemon_shows_why_dms_are_paused_and_recovers_without_restart(
    tmp_path: Path, sim: XSim, clock: Clock
) -> None:
    refusal = refuse_dms(sim)
    first = sim.state.add_mention("jane", "my order never arrived")
    dm = sim.state.add_dm("kurt", "my card was charged twice, broken checkout")
    stack = Stack(tmp_path, sim)
    async with running(stack):
        await wait_for(lambda: answered(sim)[first.id] == 1)
        second = sim.state.add_mention("lena", "refund please, parcel lost")
        await wait_for(lambda: answered(sim)[second.id] == 1)  # reading goes on
        paused = await stack.healthz()
        status = await asyncio.to_thread(stack.status_cli, tmp_path)

        sim.faults.remove(refusal)
        clock.now += DM_RETRY_SECONDS
        await wait_for(lambda: answered(sim)[dm.conversation_id] == 1)
        await wait_for(lambda: stack.x.health().state == "ok")
        recovered = await stack.healthz()

    x_paused = next(c for c in paused["connectors"] if c["name"] == "x")
    assert paused["http_status"] == 503 and x_paused["state"] == "degraded"
    assert x_paused["token_valid"] is True and "DMs not read" in x_paused["last_error"]
    assert re.search(r"│ x +│ degrade.*│ DMs not ", status)  # (folded at 80 columns)
    x_recovered = next(c for c in recovered["connectors"] if c["name"] == "x")
    assert x_recovered["state"] == "ok" and x_recovered["last_error"] is None
    assert answered(sim) == {first.id: 1, second.id: 1, dm.conversation_id: 1}
