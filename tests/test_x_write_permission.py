"""An X app with the "Read" permission only: tweet replies fail for good, reading goes on.

X answers POST /2/tweets from an app without "Read and write" (or with a user token generated
before it was granted) with a 403 of problem type ``oauth1-permissions``. The credentials are
valid (reads work), so this is not refused credentials (health ``down``, the sender retrying
every 5 minutes forever): the reply fails on its ticket with what to do, health is ``degraded``
with that reason, mentions keep being read, and a reply goes out again once the permission is
fixed. A 401, or any other 403 on a reply, is still refused credentials. (The DM side of this
is tests/test_x_dm_permission.py.)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.errors import AuthError, ConnectorError
from connectors.base import Kind
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket
from tests.sims import x_sim_access as access
from tests.sims.x_fixture import sim
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import Store, drain, make_connector
from tests.support.harness import count_rows
from tests.support.logs import warnings_saying
from tests.test_faults_connectors import FOREVER, Stack, running, wait_for
from tests.test_x_outbound import answer

__all__ = ["sim"]  # the fixture, re-exported for pytest

CREATE_TWEET = "/2/tweets"
# What the operator is told to do, in the reply's reason, the health and the warning.
ADVICE = ("'Read and write'", "developer portal", "regenerate")


async def test_read_only_app_reply_fails_with_what_to_do_while_mentions_are_read(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.x.connector")
    sim.app_permission = access.READ
    sim.state.add_mention("alma", "where is my parcel")
    store = Store()
    connector = make_connector(sim, store, dms=False)
    await connector.connect()
    (item,) = await drain(connector, store)

    with pytest.raises(ConnectorError) as refused:
        await connector.send(answer(item, "Sorry, checking now"))

    assert not isinstance(refused.value, AuthError)  # the sender gives this reply up
    reason = str(refused.value)
    assert reason.startswith("X refused the tweet: the app lacks the Read and write permission")
    assert "HTTP 403" in reason and access.OAUTH1_PERMISSIONS_DETAIL in reason
    assert all(advice in reason for advice in ADVICE)
    assert sim.count(CREATE_TWEET, "POST") == 1 and sim.sent == []  # not retried like a 5xx
    health = connector.health()
    assert health.state == "degraded" and health.token_valid is True
    assert health.last_error is not None and "Tweet replies refused" in health.last_error
    assert all(advice in health.last_error for advice in ADVICE)
    [warning] = warnings_saying(caplog, "refuses our tweets")
    assert all(advice in warning for advice in ADVICE)
    assert "X_ACCESS_TOKEN" in warning and "another channel" in warning
    assert "refused our credentials" not in caplog.text

    later = sim.state.add_mention("bert", "still waiting")
    assert [i.external_id for i in await drain(connector, store)] == [later.id]  # reads go on
    assert connector.health().state == "degraded"  # ...and do not hide the refusal
    with pytest.raises(ConnectorError):
        await connector.send(answer(store.items[later.id], "On it", key="outbox-2"))
    assert (
        len(warnings_saying(caplog, "refuses our tweets")) == 1
        and "Tweet replies still refused" in caplog.text
    )

    sim.app_permission = access.READ_WRITE  # granted in the portal, token regenerated
    ref = await connector.send(answer(item, "Sorry, checking now", key="outbox-3"))

    assert [s["id"] for s in sim.sent] == [ref.external_id]
    health = connector.health()
    assert health.state == "ok" and health.last_error is None
    assert "tweets are accepted again" in caplog.text
    for secret in sim.env().values():
        assert secret not in caplog.text and secret not in reason


@pytest.mark.parametrize(
    "fault",
    [{"status": 401}, {"status": 403, "detail": "Forbidden"}],
    ids=["401", "other-403"],
)
async def test_401_or_another_403_on_a_reply_is_still_refused_credentials(
    sim: XSim, caplog: pytest.LogCaptureFixture, fault: dict[str, Any]
) -> None:
    sim.state.add_mention("carl", "hello")
    store = Store()
    connector = make_connector(sim, store, dms=False)
    await connector.connect()
    (item,) = await drain(connector, store)
    sim.inject(CREATE_TWEET, method="POST", times=FOREVER, **fault)

    with pytest.raises(AuthError):
        await connector.send(answer(item, "Hi Carl"))

    health = connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "refused our credentials on create tweet" in caplog.text
    assert warnings_saying(caplog, "refuses our tweets") == [] and sim.sent == []


# -- through the daemon: the acknowledgement is given up on its ticket --------------------------


async def tweet_replies(config: Config) -> list[tuple[OutboxMessage, Ticket, list[Event]]]:
    """Each acknowledgement of a mention, its ticket and the ticket's event log."""
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            query = select(OutboxMessage).where(OutboxMessage.kind == Kind.MENTION.value)
            found = []
            for row in await session.scalars(query.order_by(OutboxMessage.id)):
                assert row.ticket_id is not None
                ticket = await session.get(Ticket, row.ticket_id)
                assert ticket is not None
                events = await session.scalars(select(Event).where(Event.ticket_id == ticket.id))
                found.append((row, ticket, list(events)))
            return found
    finally:
        await db.close()


async def replies_failed(config: Config, count: int, seconds: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while await count_rows(config, OutboxMessage, kind="mention", status="failed") < count:
        assert loop.time() < deadline, "the refused tweet replies were not given up"
        await asyncio.sleep(0.05)


async def test_daemon_gives_up_acks_a_read_only_app_cannot_post_and_keeps_reading(
    tmp_path: Path, sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.app_permission = access.READ  # mentions are read, replies (and DMs) are refused
    first = sim.state.add_mention("cleo", "my order never arrived")
    stack = Stack(tmp_path, sim)
    async with running(stack):
        await replies_failed(stack.config, 1)
        later = sim.state.add_mention("dirk", "refund please, parcel lost")
        await replies_failed(stack.config, 2)  # mentions are still read and acknowledged
        await wait_for(lambda: stack.x.health().state == "degraded")
        health = await stack.healthz()

    replies = await tweet_replies(stack.config)
    assert [row.in_reply_to for row, _, _ in replies] == [first.id, later.id]
    for row, ticket, events in replies:
        assert row.status == "failed" and row.attempts == 1  # counted, given up at once
        assert row.last_error is not None
        assert "X refused the tweet: the app lacks the Read and write permission" in row.last_error
        assert ADVICE[0] in row.last_error
        [failed] = [e for e in events if e.type == "send_failed"]  # the ticket says why
        assert failed.data["outbox_id"] == row.id
        assert ticket.status == "open" and ticket.acknowledged_at is None
    assert sim.count(CREATE_TWEET, "POST") == 2  # one try each: not retried every 5 minutes
    assert stack.daemon.stats.replies_failed == 2 and sim.sent == []
    assert await count_rows(stack.config, Interaction, channel="x", direction="in") == 2
    x = next(c for c in health["connectors"] if c["name"] == "x")
    assert health["http_status"] == 503 and x["state"] == "degraded"
    assert x["token_valid"] is True and "Tweet replies refused" in x["last_error"]
    assert "refused our credentials" not in caplog.text
    assert caplog.text.count("X refuses our tweets") == 1  # one warning saying what to do
