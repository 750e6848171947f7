"""CSAT end to end through the real daemon and a fake platform: asked once after resolve, in
the same private conversation (or by DM for public posts where the platform allows it),
answered in free text, a low score alerts the staff, "stop" is respected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.desk.handlers import Args
from connectors.base import Kind
from storage.db import Database
from storage.models import Customer, OutboxMessage
from tests.support.desk_kit import (
    CLI,
    ManualClock,
    count,
    desk,
    events,
    notices,
    scheduler,
    ticket,
)
from tests.support.harness import FakeConnector, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, replies={"company": "Acme"})


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    await database.upgrade()
    yield database
    await database.close()


@pytest.fixture
def clock() -> ManualClock:
    # Behind the wall clock: the customer's answer is received after the question.
    return ManualClock(datetime.now(UTC) - timedelta(minutes=5))


async def _resolve(config: Config, db: Database, clock: ManualClock, number: int) -> None:
    await desk(config, db, clock).execute(CLI, "resolve", Args(ticket=number, resolution="info"))


async def test_dm_ticket_is_asked_once_in_the_dm_and_the_answer_is_recorded(
    config: Config, db: Database, clock: ManualClock
) -> None:
    fake = FakeConnector()
    fake.push(message("my refund never came", id="d1", kind=Kind.DM, thread="dm-1", author="zed"))
    await run_once(config, [fake], StubScorer())
    await _resolve(config, db, clock, 1)

    report = await scheduler(config, db, clock).tick()
    assert report.csat_asked == [1]
    await run_once(config, [fake], StubScorer())
    question = fake.sent[-1]
    assert question.kind is Kind.DM and question.thread == "dm-1"
    assert question.text.startswith("Hi zed, ticket #1 is resolved") and "1 (poor)" in question.text

    fake.push(message("4/5, thanks", id="d2", kind=Kind.DM, thread="dm-1", author="zed"))
    await run_once(config, [fake], StubScorer())

    answered = await ticket(db, 1)
    assert answered.csat_score == 4 and answered.csat_status == "answered"
    assert answered.status == "resolved"  # an answer never reopens the ticket
    assert [e.data for e in await events(db, 1, "csat_answered")] == [{"score": 4}]
    assert len(fake.sent) == 2  # ack and question: the answer gets no acknowledgement
    second = await scheduler(config, db, clock).tick()
    assert second.csat_asked == [] and second.csat_low == []


async def test_public_post_is_asked_by_dm_and_a_low_score_alerts_the_staff_once(
    config: Config, db: Database, clock: ManualClock
) -> None:
    x = FakeConnector("x")  # "x" is in desk.csat.dm_channels by default
    x.push(message("worst delivery ever, parcel lost", id="t1", thread="t1", author="ann"))
    await run_once(config, [x], StubScorer())
    await _resolve(config, db, clock, 1)
    jobs = scheduler(config, db, clock)
    await jobs.tick()
    await run_once(config, [x], StubScorer())
    question = x.sent[-1]
    assert question.kind is Kind.DM and question.recipient_id == "uid-ann"
    assert question.in_reply_to is None and question.text.startswith("Hi ann,")

    x.push(message("1", id="dm-9", kind=Kind.DM, thread="dm-conv-ann", author="ann"))
    await run_once(config, [x], StubScorer())

    assert (await ticket(db, 1)).csat_score == 1
    assert (await jobs.tick()).csat_low == [1]
    assert (await jobs.tick()).csat_low == []
    [alert] = await notices(db, "csat_low")
    assert "#1" in alert.text and "1/5" in alert.text


async def test_public_post_on_a_platform_without_dms_is_skipped_with_the_reason(
    config: Config, db: Database, clock: ManualClock
) -> None:
    fake = FakeConnector()  # "fake" cannot open a DM
    fake.push(message("my order is late", id="p1", author="bob"))
    await run_once(config, [fake], StubScorer())
    await _resolve(config, db, clock, 1)

    report = await scheduler(config, db, clock).tick()

    assert report.csat_skipped == [1] and report.csat_asked == []
    skipped = await ticket(db, 1)
    assert skipped.csat_status == "skipped" and "public mention on fake" in (
        skipped.csat_note or ""
    )
    assert await count(db, OutboxMessage, purpose="csat") == 0
    assert len(await events(db, 1, "csat_skipped")) == 1


async def test_stop_opts_the_customer_out_of_every_later_survey(
    config: Config, db: Database, clock: ManualClock
) -> None:
    fake = FakeConnector()
    fake.push(message("broken kettle", id="a1", kind=Kind.DM, thread="dm-7", author="cy"))
    await run_once(config, [fake], StubScorer())
    await _resolve(config, db, clock, 1)
    await scheduler(config, db, clock).tick()
    fake.push(message("stop", id="a2", kind=Kind.DM, thread="dm-7", author="cy"))
    await run_once(config, [fake], StubScorer())
    assert (await ticket(db, 1)).status == "resolved"
    assert await count(db, Customer, csat_opted_out=True) == 1

    fake.push(
        message("now the toaster is broken too", id="a3", kind=Kind.DM, thread="dm-8", author="cy")
    )
    await run_once(config, [fake], StubScorer())
    await _resolve(config, db, clock, 2)
    report = await scheduler(config, db, clock).tick()

    assert report.csat_skipped == [2]
    assert (await ticket(db, 2)).csat_note == "customer opted out of surveys"
    assert await count(db, OutboxMessage, purpose="csat") == 1


async def test_no_second_survey_after_reopen_and_resolve_and_other_text_reopens(
    config: Config, db: Database, clock: ManualClock
) -> None:
    fake = FakeConnector()
    fake.push(message("lost parcel", id="r1", kind=Kind.DM, thread="dm-2", author="di"))
    await run_once(config, [fake], StubScorer())
    await _resolve(config, db, clock, 1)
    jobs = scheduler(config, db, clock)
    await jobs.tick()

    # Not an answer: a new problem in the same conversation reopens the ticket.
    fake.push(
        message(
            "the replacement is broken as well", id="r2", kind=Kind.DM, thread="dm-2", author="di"
        )
    )
    await run_once(config, [fake], StubScorer())
    assert (await ticket(db, 1)).status == "open"
    assert len(await events(db, 1, "reopened_by_customer")) == 1

    await _resolve(config, db, clock, 1)
    assert (await jobs.tick()).csat_asked == []
    assert await count(db, OutboxMessage, purpose="csat") == 1
