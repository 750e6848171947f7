"""Follow-ups: the assignee is reminded, the customer nudged, the silent ticket auto-closed,
each once per waiting period, and nudges reach the customer's own thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from responders.calendar import BusinessCalendar
from storage import sla
from storage.db import Database
from storage.models import OutboxMessage, Ticket
from storage.tickets import TicketRepo
from tests.support.desk_kit import (
    BERLIN_CALENDAR,
    ManualClock,
    berlin,
    count,
    events,
    notices,
    open_ticket,
    outbox,
    scheduler,
    ticket,
)
from tests.support.harness import FakeConnector, make_config, run_once
from tests.support.stub_scorer import StubScorer


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        calendar=BERLIN_CALENDAR,
        replies={"company": "Acme"},
        desk={
            "followup": {
                "remind_after_business_hours": 4,
                "nudge_after_business_days": 2,
                "close_after_business_days": 5,
            }
        },
    )


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    await database.upgrade()
    yield database
    await database.close()


async def test_assignee_is_reminded_once_after_waiting_too_long(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 7, 9, 0))
    clock = ManualClock(berlin(2026, 12, 7, 9, 30))
    await TicketRepo(db, BusinessCalendar(config.calendar), clock.now).assign(
        number, "discord:4242", "cli:lead"
    )
    jobs = scheduler(config, db, clock)

    clock.set(berlin(2026, 12, 7, 13, 59))  # 3h59 of business time (lunch does not count)
    assert (await jobs.tick()).reminded == []
    clock.set(berlin(2026, 12, 7, 14, 0))
    assert (await jobs.tick()).reminded == [number]
    clock.set(berlin(2026, 12, 8, 14, 0))
    assert (await jobs.tick()).reminded == []

    [reminder] = await notices(db, "reminder")
    assert reminder.mention == "user:4242" and f"#{number}" in reminder.text
    assert len(await events(db, number, "assignee_reminded")) == 1


async def test_snoozed_ticket_is_not_reminded_until_the_snooze_ends(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 7, 9, 0))
    clock = ManualClock(berlin(2026, 12, 7, 9, 0))
    repo = TicketRepo(db, BusinessCalendar(config.calendar), clock.now)
    await repo.snooze(number, berlin(2026, 12, 8, 9, 0), "cli:jess")
    jobs = scheduler(config, db, clock)

    clock.set(berlin(2026, 12, 7, 16, 0))
    assert (await jobs.tick()).reminded == []
    clock.set(berlin(2026, 12, 8, 9, 0))
    assert (await jobs.tick()).reminded == [number]


async def test_silent_customer_is_nudged_then_ticket_auto_closes_with_a_notice(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 10, 0), author="zed")
    clock = ManualClock(berlin(2026, 12, 4, 15, 0))  # Friday: we answer and wait
    repo = TicketRepo(db, BusinessCalendar(config.calendar), clock.now)
    await repo.reply(number, "Which colour was the blender?", "cli:jess")
    jobs = scheduler(config, db, clock)

    clock.set(berlin(2026, 12, 8, 14, 59))  # 2 business days = Tue 15:00 (weekend skipped)
    assert (await jobs.tick()).nudged == []
    clock.set(berlin(2026, 12, 8, 15, 0))
    assert (await jobs.tick()).nudged == [number]
    clock.set(berlin(2026, 12, 10, 9, 0))
    assert (await jobs.tick()).nudged == []  # once per waiting period
    clock.set(berlin(2026, 12, 11, 14, 59))  # 5 business days = Fri 11th 15:00
    assert (await jobs.tick()).closed == []
    clock.set(berlin(2026, 12, 11, 15, 0))
    assert (await jobs.tick()).closed == [number]
    clock.set(berlin(2026, 12, 18, 15, 0))
    later = await jobs.tick()
    assert later.closed == [] and later.nudged == []

    closed = await ticket(db, number)
    assert closed.status == "closed" and closed.closed_at == berlin(2026, 12, 11, 15, 0)
    assert closed.csat_status == "skipped"  # no survey after an auto-close
    assert [r.purpose for r in await outbox(db)] == ["agent_reply", "nudge", "close_notice"]
    assert len(await events(db, number, "auto_closed")) == 1

    fake = FakeConnector()  # the original platform: everything lands in the customer's thread
    await run_once(config, [fake], StubScorer())
    assert [s.thread for s in fake.sent] == [closed.thread] * 3
    nudge, notice = fake.sent[1], fake.sent[2]
    assert nudge.text.startswith("Hi @zed") and f"#{number}" in nudge.text
    assert "closed ticket" in notice.text
    assert await count(db, OutboxMessage, status="sent") == 3


async def test_customer_answer_starts_a_new_waiting_period(config: Config, db: Database) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 10, 0))
    clock = ManualClock(berlin(2026, 12, 4, 15, 0))
    repo = TicketRepo(db, BusinessCalendar(config.calendar), clock.now)
    await repo.reply(number, "Which colour?", "cli:jess")
    jobs = scheduler(config, db, clock)
    clock.set(berlin(2026, 12, 8, 15, 0))
    assert (await jobs.tick()).nudged == [number]

    # The customer answers (what the worker does when a message joins the ticket).
    async with db.transaction() as session:
        row = await session.get(Ticket, number)
        assert row is not None
        sla.to_company(row, berlin(2026, 12, 8, 16, 0), None)
    clock.set(berlin(2026, 12, 9, 9, 0))
    await repo.reply(number, "Thanks, shipping a new one", "cli:jess")
    clock.set(berlin(2026, 12, 11, 9, 0))  # 2 business days after Wed 09:00
    assert (await jobs.tick()).nudged == [number]
    assert len(await outbox(db, "nudge")) == 2
