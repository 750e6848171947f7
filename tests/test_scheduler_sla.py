"""The policy's clock: exact due times, one warning at 75%, one breach, pauses that move the
due time. Time is moved by hand (ManualClock): no test sleeps.

Calendar: Berlin, Mon-Fri 09:00-12:00 and 13:00-17:00 (a split shift, 7 business hours a
day), German public holidays; first response due after 24 business hours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import Config
from responders.calendar import BusinessCalendar
from storage import sla
from storage.db import Database
from storage.models import Event, StaffNotice, Ticket
from storage.tickets import TicketRepo
from tests.support.desk_kit import (
    BERLIN_CALENDAR,
    ManualClock,
    berlin,
    count,
    events,
    notices,
    open_ticket,
    scheduler,
    ticket,
)
from tests.support.harness import FakeConnector, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        calendar=BERLIN_CALENDAR,
        desk={"staff": {"escalation_role_id": 999}},
    )


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        # weekend: Fri 15-17 (2h), Mon/Tue/Wed (21h), Thu 09-10 (1h)
        (berlin(2026, 12, 4, 15, 0), berlin(2026, 12, 10, 10, 0)),
        # holiday: Thu 24th 16-17 (1h), Fri 25th Christmas, weekend, Mon-Wed (21h), Thu 09-11
        (berlin(2026, 12, 24, 16, 0), berlin(2026, 12, 31, 11, 0)),
        # split shift: Mon 11:30-12 and 13-17 (4.5h), Tue/Wed (14h), Thu 09-12 (3h), 13-15:30
        (berlin(2026, 12, 7, 11, 30), berlin(2026, 12, 10, 15, 30)),
    ],
    ids=["weekend", "holiday", "split-shift"],
)
async def test_due_time_is_exact_and_breach_fires_exactly_then(
    config: Config, db: Database, opened: object, due: object
) -> None:
    number = await open_ticket(db, config, at=opened)  # type: ignore[arg-type]
    assert (await ticket(db, number)).first_response_due_at == due
    clock = ManualClock(due - timedelta(seconds=1))  # type: ignore[operator]
    jobs = scheduler(config, db, clock)

    before = await jobs.tick()
    clock.set(due)  # type: ignore[arg-type]
    at_due = await jobs.tick()

    assert number not in before.breached
    assert at_due.breached == [number]
    assert (await ticket(db, number)).sla_breached_at == due


async def test_extra_holiday_from_config_moves_the_due_time(tmp_path: Path) -> None:
    config = make_config(tmp_path, calendar={**BERLIN_CALENDAR, "extra_holidays": ["2026-12-31"]})
    db = Database(config.database_url)
    await db.upgrade()
    try:
        number = await open_ticket(db, config, at=berlin(2026, 12, 24, 16, 0))
        # 31 Dec (extra) and 1 Jan (public) are off: Mon 4 Jan 09-11 finishes the 24h
        assert (await ticket(db, number)).first_response_due_at == berlin(2027, 1, 4, 11, 0)
    finally:
        await db.close()


async def test_warning_at_75_percent_fires_once_then_breach_once_with_escalation_ping(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))  # due Thu 10 10:00
    # 18 of 24 business hours used = 6 left: Wed 9th 11:00 (11-12, 13-17, Thu 9-10)
    clock = ManualClock(berlin(2026, 12, 9, 10, 59))
    jobs = scheduler(config, db, clock)

    assert (await jobs.tick()).warned == []
    clock.set(berlin(2026, 12, 9, 11, 0))
    assert (await jobs.tick()).warned == [number]
    clock.set(berlin(2026, 12, 9, 16, 0))
    assert (await jobs.tick()).warned == []
    clock.set(berlin(2026, 12, 10, 10, 0))
    assert (await jobs.tick()).breached == [number]
    clock.set(berlin(2026, 12, 11, 10, 0))
    again = await jobs.tick()
    assert again.breached == [] and again.warned == []

    sla_notices = [n.kind for n in await notices(db) if n.kind.startswith("sla_")]
    assert sla_notices == ["sla_warning", "sla_breach"]
    breach = (await notices(db, "sla_breach"))[0]
    assert breach.mention == "role:999" and f"#{number}" in breach.text
    assert len(await events(db, number, "sla_warning")) == 1
    assert len(await events(db, number, "sla_breached")) == 1
    stored = await ticket(db, number)
    assert stored.sla_warned_at == berlin(2026, 12, 9, 11, 0)
    assert stored.sla_breached_at == berlin(2026, 12, 10, 10, 0)


async def test_late_first_pass_records_the_breach_without_a_stale_warning(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    jobs = scheduler(config, db, ManualClock(berlin(2026, 12, 14, 9, 0)))  # days after due

    report = await jobs.tick()

    assert report.breached == [number] and report.warned == []
    assert await count(db, StaffNotice, kind="sla_breach") == 1
    assert await count(db, StaffNotice, kind="sla_warning") == 0


async def test_two_schedulers_racing_record_each_breach_once(config: Config, db: Database) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))
    clock = ManualClock(berlin(2026, 12, 10, 10, 30))
    first, second = scheduler(config, db, clock), scheduler(config, db, clock)

    reports = [await first.tick(), await second.tick()]

    assert [r.breached for r in reports] == [[number], []]
    assert await count(db, StaffNotice, kind="sla_breach") == 1
    assert await count(db, Event, type="sla_breached") == 1


async def test_waiting_on_the_customer_pauses_the_clock_and_moves_the_due_time(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 4, 15, 0))  # due Thu 10 10:00
    clock = ManualClock(berlin(2026, 12, 7, 10, 0))
    repo = TicketRepo(db, BusinessCalendar(config.calendar), clock.now)
    jobs = scheduler(config, db, clock)

    # Mon 10:00 an agent asks a question (queued, not yet delivered): the ball is theirs.
    await repo.reply(number, "Could you send us your order number?", "cli:jess")
    paused = await ticket(db, number)
    assert paused.status == "waiting_customer"
    assert paused.sla_remaining_seconds == timedelta(hours=21).total_seconds()

    clock.set(berlin(2026, 12, 10, 12, 0))  # past the old due time, still paused
    quiet = await jobs.tick()
    assert quiet.breached == [] and quiet.warned == []

    # The customer answers on Wed 9th 13:00 (what the worker does when a message joins).
    async with db.transaction() as session:
        row = await session.get(Ticket, number)
        assert row is not None
        sla.to_company(row, berlin(2026, 12, 9, 13, 0), None)
    clock.set(berlin(2026, 12, 9, 13, 5))
    assert (await jobs.tick()).resumed == [number]

    # 21h left from Wed 13:00: Wed 4h, Thu 7h, Fri 7h, Mon 14th 09-12
    resumed = await ticket(db, number)
    assert resumed.first_response_due_at == berlin(2026, 12, 14, 12, 0)
    assert resumed.sla_paused_at is None and resumed.status == "open"


async def test_resolve_stops_the_clock_and_reopen_starts_it_with_what_was_left(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=berlin(2026, 12, 7, 11, 30))  # due Thu 15:30
    clock = ManualClock(berlin(2026, 12, 7, 16, 0))  # 3.5h used, 20.5h left
    repo = TicketRepo(db, BusinessCalendar(config.calendar), clock.now)
    jobs = scheduler(config, db, clock)

    await repo.resolve(number, "info", "cli:jess")
    clock.set(berlin(2026, 12, 21, 9, 0))
    assert (await jobs.tick()).breached == []  # stopped: no breach while resolved

    clock.set(berlin(2026, 12, 21, 10, 0))
    await repo.reopen(number, "cli:jess")

    # 20.5h from Mon 21st 10:00: Mon 6h, Tue 7h, Wed 7h, Thu 24th 09:00-09:30
    assert (await ticket(db, number)).first_response_due_at == berlin(2026, 12, 24, 9, 30)
    kinds = [e.type for e in await events(db, number)]
    assert kinds.index("resolved") < kinds.index("reopened")


async def test_pipeline_ticket_due_time_follows_the_configured_calendar(
    config: Config, db: Database
) -> None:
    fake = FakeConnector()
    fake.push(message("My blender arrived broken", id="b1"))
    await run_once(config, [fake], StubScorer())

    opened = await ticket(db, 1)
    expected = BusinessCalendar(config.calendar).add_business_time(
        opened.opened_at, timedelta(hours=24)
    )
    assert opened.first_response_due_at == expected
    assert opened.first_response_due_at - opened.opened_at >= timedelta(hours=24)
