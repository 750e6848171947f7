"""An X app without DM permission: a 403 on GET /2/dm_events pauses DMs, not the connector.

Many apps (Free/Basic tiers, or a user token generated before the DM permission was granted)
get 403 on /2/dm_events while mentions work. Mentions and searches must keep being read and
answered, health must say why DMs are not, and DMs come back by themselves once the
permission is fixed. A 401 anywhere, or a 403 on mentions, still means refused credentials.
The same 403 on a DM reply gives that reply up, on its ticket, with the reason; a 403 on the
DM lookup of reconciliation means "cannot tell", never refused credentials. (The connector's
side of the reply path is in tests/test_x_outbound.py.)
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import aclosing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

import connectors.x.connector
from bot.cli import app
from bot.config import Config
from bot.daemon import Daemon
from bot.errors import AuthError
from connectors.base import ConnectorContext
from connectors.x import XConnector
from connectors.x.connector import DM_RETRY_SECONDS
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket, now_utc
from tests.sims.x_fixture import sim
from tests.sims.x_sim import Fault, XSim
from tests.sims.x_testkit import Store, drain, make_connector, x_settings
from tests.support.harness import count_rows
from tests.support.stub_scorer import StubScorer
from tests.test_faults_connectors import FOREVER, Stack, answered, running, wait_for
from tests.test_x_e2e import run_once, x_config

__all__ = ["sim"]  # the fixture, re-exported for pytest

SEND_DM = "/2/dm_conversations/with/*/messages"
DM_LOOKUP = "/2/dm_conversations/with/*/dm_events"

ADVICE = ("Read and write and Direct message", "dms = false")


class Clock:
    """Stands in for the connector's monotonic clock: the DM pause passes when a test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


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


async def _listen_until_refused(sim: XSim) -> None:
    """Listen until the connector gives up: refused credentials, health down, token invalid."""
    connector = make_connector(sim, Store())
    await connector.connect()
    with pytest.raises(AuthError):
        async with aclosing(connector.listen(follow=True)) as stream:  # type: ignore[type-var]
            async for _ in stream:
                pass
    health = connector.health()
    assert health.state == "down" and health.token_valid is False


async def test_401_on_dms_still_stops_the_connector(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("fred", "hello")
    sim.inject("/2/dm_events", status=401, times=FOREVER)
    await _listen_until_refused(sim)
    assert "refused our credentials on dm_events" in caplog.text
    assert warnings_about_dms(caplog) == []


async def test_403_on_mentions_still_stops_the_connector(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_mention("gina", "hello")
    sim.inject("/2/users/*/mentions", status=403, times=FOREVER)
    await _listen_until_refused(sim)
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


# -- replies: a DM X refuses to send is given up on its ticket --------------------------------


async def dm_reply(config: Config) -> tuple[OutboxMessage, Ticket, list[Event]]:
    """The DM acknowledgement's outbox row, its ticket and the ticket's event log."""
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "dm"))
            assert row is not None and row.ticket_id is not None
            ticket = await session.get(Ticket, row.ticket_id)
            assert ticket is not None
            events = await session.scalars(select(Event).where(Event.ticket_id == ticket.id))
            return row, ticket, list(events)
    finally:
        await db.close()


async def dm_reply_failed(config: Config, seconds: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await count_rows(config, OutboxMessage, kind="dm", status="failed"):
        assert loop.time() < deadline, "the refused DM reply was not given up"
        await asyncio.sleep(0.05)


def tickets_show(tmp_path: Path, config: Config, number: int) -> str:
    path = tmp_path / "cli.toml"
    path.write_text(f'[bot]\ndatabase_url = "{config.database_url}"\n', encoding="utf-8")
    result = CliRunner().invoke(
        app, ["tickets", "show", str(number), "--config", str(path)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    return result.output


async def test_refused_dm_reply_fails_for_good_on_its_ticket_while_tweets_are_answered(
    tmp_path: Path, sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.inject(SEND_DM, method="POST", status=403, times=FOREVER)  # DMs read, never sent
    first = sim.state.add_mention("mona", "my order never arrived")
    sim.state.add_dm("nils", "my card was charged twice, broken checkout")
    stack = Stack(tmp_path, sim)
    async with running(stack):
        await wait_for(lambda: answered(sim)[first.id] == 1)
        await dm_reply_failed(stack.config)
        later = sim.state.add_mention("omar", "refund please, parcel lost")
        await wait_for(lambda: answered(sim)[later.id] == 1)  # tweets go on after it
        health = await stack.healthz()

    row, ticket, events = await dm_reply(stack.config)
    assert row.status == "failed" and row.attempts == 1  # counted, and given up at once
    assert row.last_error is not None
    assert "X refused the DM: the app lacks the Direct Message permission" in row.last_error
    assert ADVICE[0] in row.last_error
    assert sim.count(SEND_DM, "POST") == 1  # not retried every 5 minutes (or ever)
    assert stack.daemon.stats.replies_failed == 1
    [failed] = [e for e in events if e.type == "send_failed"]  # the ticket says why
    assert failed.data["outbox_id"] == row.id
    assert "lacks the Direct Message permission" in failed.data["error"]
    assert ticket.acknowledged_at is None and ticket.first_response_at is None
    assert ticket.status == "open" and ticket.first_response_due_at is not None
    assert answered(sim) == {first.id: 1, later.id: 1}
    x = next(c for c in health["connectors"] if c["name"] == "x")
    assert health["http_status"] == 503 and x["state"] == "degraded"
    assert x["token_valid"] is True and "DM replies refused" in x["last_error"]
    assert "refused our credentials" not in caplog.text
    assert caplog.text.count("X refuses our DMs") == 1  # one warning saying what to do
    assert "send_failed" in await asyncio.to_thread(tickets_show, tmp_path, stack.config, ticket.id)


async def test_dm_lookup_refused_at_reconcile_is_cannot_tell_not_refused_credentials(
    tmp_path: Path, sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("pia", "my card was charged twice, broken checkout")
    config = x_config(tmp_path, sim, mentions=False)
    outage = sim.inject(SEND_DM, method="POST", status=503, times=FOREVER)
    await run_once(config)  # the DM acknowledgement stays in the outbox...
    db = Database(config.database_url)
    async with db.transaction() as session:  # ...where a sender killed mid-send leaves it
        await session.execute(
            update(OutboxMessage).values(
                status="sending",
                lease_until=now_utc() + timedelta(minutes=5),
                next_attempt_at=now_utc(),
            )
        )
    await db.close()
    sim.faults.remove(outage)
    sim.inject(DM_LOOKUP, status=403, times=FOREVER)  # the app lost its DM permission
    sim.inject(SEND_DM, method="POST", status=403, times=FOREVER)
    x = XConnector(x_settings(sim, mentions=False), ConnectorContext("x", Store()))
    daemon = Daemon(config, connectors=[x], scorer=StubScorer())
    x.ctx = ConnectorContext("x", daemon.storage.inbound)

    await daemon.run(once=True, install_signals=False)

    row, _, events = await dm_reply(config)
    assert sim.count(DM_LOOKUP) >= 1 and "platform did not answer" in caplog.text
    assert row.status == "failed" and row.last_error is not None
    assert "lacks the Direct Message permission" in row.last_error
    assert [e.type for e in events].count("send_failed") == 1
    assert sim.sent == []  # nothing posted, nothing posted twice
    assert x.health().token_valid is True
    assert "refused our credentials" not in caplog.text
