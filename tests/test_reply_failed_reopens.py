"""An agent's reply given up hands its ticket back to the company, clock running again.

Queuing the reply paused the ticket on the customer; if it never reaches them, nudges and
auto-close would follow on the same broken channel. Time is moved by hand (ManualClock, and
the outbox's ``now_utc`` patched to it): no test sleeps.

Calendar: Berlin, Mon-Fri 09:00-12:00 and 13:00-17:00, German public holidays; first
response due after 24 business hours (as in test_scheduler_sla).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from connectors.base import SentRef
from responders.calendar import BusinessCalendar
from storage import sla
from storage.db import Database
from storage.models import Interaction, Ticket
from storage.outbox import OutboxRepo, PendingReply
from storage.tickets import TicketRepo, outbox_row
from tests.support.desk_kit import (
    BERLIN_CALENDAR,
    ManualClock,
    berlin,
    events,
    notices,
    open_ticket,
    scheduler,
    ticket,
)
from tests.support.harness import make_config

REFUSAL = "refused: the customer blocks DMs from us"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, calendar=BERLIN_CALENDAR)


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Mon 7 Dec 10:00; the outbox reads its time from it too (when it gives up)."""
    manual = ManualClock(berlin(2026, 12, 7, 10, 0))
    monkeypatch.setattr("storage.outbox.now_utc", manual.now)
    return manual


def agents(config: Config, db: Database, clock: ManualClock) -> TicketRepo:
    return TicketRepo(db, BusinessCalendar(config.calendar), clock.now)


async def claimed(db: Database, *outbox_ids: int) -> list[PendingReply]:
    """The replies as a sender holds them when their sends fail."""
    items = await OutboxRepo(db).claim_due({"fake"})
    assert sorted(i.outbox_id for i in items) == sorted(outbox_ids)
    return sorted(items, key=lambda i: i.outbox_id)


async def replied(repo: TicketRepo, number: int, *texts: str) -> list[PendingReply]:
    """Agent replies queued on the ticket (by jess, from the CLI) and taken by a sender."""
    ids = [await repo.reply(number, text, "cli:jess") for text in texts]
    return await claimed(repo.db, *ids)


async def give_up(db: Database, item: PendingReply) -> None:
    await OutboxRepo(db).mark_failed(item, REFUSAL, None)


async def test_agent_reply_refused_for_good_reopens_as_when_the_customer_writes_back(
    config: Config, db: Database, clock: ManualClock
) -> None:
    # Two tickets opened Fri 4 Dec 15:00 (due Thu 10 10:00), answered Mon 10:00 (21h left).
    failing = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    answered = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    repo = agents(config, db, clock)
    reply_id = await repo.reply(failing, "Could you send us your order number?", "discord:42")
    await repo.reply(answered, "Could you send us your order number?", "cli:jess")
    [item, _] = await claimed(db, reply_id, reply_id + 1)
    paused = await ticket(db, failing)
    assert paused.status == "waiting_customer" and paused.sla_paused_at is not None

    # Wed 9th 13:00: one reply is refused for good; the other ticket's customer writes back.
    clock.set(berlin(2026, 12, 9, 13, 0))
    await give_up(db, item)
    async with db.transaction() as session:
        row = await session.get(Ticket, answered)
        assert row is not None
        sla.to_company(row, clock.now(), None)  # what the worker does when a message joins

    back = await ticket(db, failing)
    assert back.status == "open" and back.waiting_since == berlin(2026, 12, 9, 13, 0)
    assert back.first_response_at is None  # only a delivered reply sets it
    clock.set(berlin(2026, 12, 9, 13, 5))
    assert (await scheduler(config, db, clock).tick()).resumed == [failing, answered]

    # 21h left from Wed 13:00: Wed 4h, Thu 7h, Fri 7h, Mon 14th 09-12 — for both tickets.
    resumed, twin = await ticket(db, failing), await ticket(db, answered)
    assert resumed.first_response_due_at == twin.first_response_due_at
    assert resumed.first_response_due_at == berlin(2026, 12, 14, 12, 0)
    assert resumed.sla_paused_at is None and resumed.first_response_at is None
    [event] = await events(db, failing, "reopened_reply_failed")
    assert event.actor == "bot" and event.data == {"outbox_id": reply_id}
    [notice] = await notices(db, "reply_failed")
    assert notice.ticket_id == failing and notice.mention == "user:42"


@pytest.mark.parametrize("purpose", ["ack", "nudge"])
async def test_automatic_reply_given_up_leaves_the_status_alone(
    config: Config, db: Database, clock: ManualClock, purpose: str
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    reply_id = await agents(config, db, clock).reply(number, "Order number?", "cli:jess")
    async with db.transaction() as session:
        row = await session.get(Ticket, number)
        assert row is not None
        origin = await session.get(Interaction, row.origin_interaction_id)
        assert origin is not None
        automatic = outbox_row(origin, row, purpose, "", "We are on it", "bot")
        session.add(automatic)
        await session.flush()
        automatic_id = automatic.id
    [reply, item] = await claimed(db, reply_id, automatic_id)
    await OutboxRepo(db).mark_sent(reply, SentRef("sent-1"))  # the agent's answer arrived

    await give_up(db, item)

    after = await ticket(db, number)
    assert after.status == "waiting_customer" and after.sla_paused_at is not None
    assert await events(db, number, "reopened_reply_failed") == []
    [notice] = await notices(db, "reply_failed")
    assert notice.ticket_id == number


async def test_agent_reply_given_up_after_the_ticket_was_resolved_stays_resolved(
    config: Config, db: Database, clock: ManualClock
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    repo = agents(config, db, clock)
    [item] = await replied(repo, number, "A new one is on its way")
    clock.set(berlin(2026, 12, 7, 11, 0))
    await repo.resolve(number, "replacement", "cli:jess")

    await give_up(db, item)

    after = await ticket(db, number)
    assert after.status == "resolved" and after.resolved_at == berlin(2026, 12, 7, 11, 0)
    assert await events(db, number, "reopened_reply_failed") == []
    assert [n.ticket_id for n in await notices(db, "reply_failed")] == [number]


async def test_reopens_only_when_no_other_agent_reply_is_on_its_way_or_delivered_since(
    config: Config, db: Database, clock: ManualClock
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    repo = agents(config, db, clock)
    first_item, second_item = await replied(repo, number, "Order number?", "Or a photo?")

    await give_up(db, first_item)  # the second one may still reach the customer
    assert (await ticket(db, number)).status == "waiting_customer"

    await give_up(db, second_item)  # neither did
    assert (await ticket(db, number)).status == "open"
    assert [e.data for e in await events(db, number, "reopened_reply_failed")] == [
        {"outbox_id": second_item.outbox_id}
    ]


async def test_earlier_delivered_reply_does_not_keep_a_later_failed_one_waiting(
    config: Config, db: Database, clock: ManualClock
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    repo = agents(config, db, clock)
    [first] = await replied(repo, number, "Order number?")
    await OutboxRepo(db).mark_sent(first, SentRef("sent-1"))
    [later] = await replied(repo, number, "A new one is on its way")

    await give_up(db, later)  # the channel is broken now: no nudges on it

    after = await ticket(db, number)
    assert after.status == "open" and after.first_response_at is not None
