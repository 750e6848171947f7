"""Every number of the report against a small data set computed by hand.

The calendar is UTC, Monday-Friday 09:00-17:00, with Tuesday 2026-11-10 a holiday, so the
business-hours figures cross a weekend and a holiday. The period is the two weeks from
Monday 2026-11-02 to Monday 2026-11-16. The same data runs on SQLite and, when it is
listening, on PostgreSQL (in a schema of its own).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from responders.calendar import BusinessCalendar, CalendarSettings
from storage.db import Database, sync_url
from storage.models import Interaction, Ticket
from storage.report_types import Report, ReportQuery
from storage.reports import build_report
from tests.support.services import need_tcp

PG_BASE = "postgresql://127.0.0.1:5432/test"
START = datetime(2026, 11, 2, tzinfo=UTC)
END = datetime(2026, 11, 16, tzinfo=UTC)
NOW = END


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def calendar_settings() -> CalendarSettings:
    return CalendarSettings(
        timezone="UTC",
        hours={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        holidays_country=None,
        extra_holidays=[date(2026, 11, 10)],
    )


def _msg(n: int, when: datetime, channel: str, kind: str, text: str, **kw: Any) -> Interaction:
    defaults: dict[str, Any] = {"direction": "in", "status": "processed"}
    return Interaction(
        external_id=f"e{n}",
        thread=f"th{n}",
        channel=channel,
        kind=kind,
        text=text,
        created_at=when,
        **(defaults | kw),
    )


def interactions() -> list[Interaction]:
    return [
        _msg(
            1,
            at(2, 10),
            "x",
            "mention",
            "my parcel is late and broken",
            polarity=-0.5,
            label="complaint",
            topic="delivery",
        ),
        _msg(2, at(2, 11), "x", "mention", "where is my parcel", polarity=0.0, label="question"),
        _msg(3, at(3, 9), "x", "mention", "love the fast delivery", polarity=0.25, label="praise"),
        _msg(
            4,
            at(2, 10, 1),
            "x",
            "mention",
            "We logged ticket #1",
            direction="out",
            status="sent",
            label="ack",
        ),
        _msg(
            5,
            at(9, 10),
            "x",
            "dm",
            "charged twice, broken billing",
            polarity=-0.25,
            label="complaint",
            topic="billing",
        ),
        _msg(
            6,
            at(3, 12),
            "email",
            "email",
            "late delivery again, parcel broken",
            polarity=-1.0,
            label="complaint",
            topic="delivery",
        ),
        _msg(
            7,
            at(10, 8),
            "email",
            "email",
            "great",
            polarity=0.5,
            label="complaint",
            agent_label="praise",
            topic="delivery",
        ),
        _msg(
            8,
            at(10, 9),
            "email",
            "email",
            "refund never came",
            polarity=-0.5,
            label="question",
            agent_label="complaint",
            topic="refund",
        ),
        _msg(
            9,
            at(4, 9),
            "email",
            "email",
            "auto-reply: out of office",
            status="ignored",
            label="ignored",
        ),
        _msg(
            10,
            at(2) - timedelta(days=3),
            "x",
            "mention",
            "terrible, broken, outside",
            polarity=-1.0,
            label="complaint",
            topic="delivery",
        ),
    ]


def _ticket(n: int, opened: datetime, **kw: Any) -> Ticket:
    return Ticket(
        origin_interaction_id=n,
        channel="x",
        thread=f"th{n}",
        label="complaint",
        opened_at=opened,
        updated_at=opened,
        **kw,
    )


def tickets() -> list[Ticket]:
    return [
        _ticket(
            1,
            at(6, 16),
            topic="delivery",
            acknowledged_at=at(6, 16, 0, 30),
            first_response_due_at=at(12, 16),
            first_response_at=at(9, 10),
            resolved_at=at(10, 12),
            csat_asked_at=at(10, 12, 5),
            csat_score=4,
        ),
        _ticket(
            2,
            at(2, 10),
            topic="billing",
            acknowledged_at=at(2, 10, 2),
            first_response_due_at=at(2, 11),
            first_response_at=at(2, 12),
        ),
        _ticket(3, at(7, 10), acknowledged_at=at(7, 10, 1), first_response_due_at=at(20, 9)),
        _ticket(
            4,
            at(11, 9),
            topic="refund",
            first_response_due_at=at(12, 9),
            resolved_at=at(11, 9, 30),
            csat_asked_at=at(11, 9, 35),
        ),
        _ticket(5, at(2) - timedelta(days=13), topic="delivery", acknowledged_at=at(2)),
        _ticket(6, at(12, 9), topic="delivery", acknowledged_at=at(12, 9, 0, 10)),
    ]


async def seed(db: Database) -> None:
    await db.upgrade()
    async with db.transaction() as session:
        session.add_all(tickets())
        session.add_all(interactions())


def pg_schema_url(schema: str) -> str:
    url = make_url(PG_BASE).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


async def open_seeded(url: str) -> Database:
    db = Database(url)
    await seed(db)
    return db


@pytest.fixture(params=["sqlite", "postgres"])
async def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The hand-computed data set in a fresh database of each kind."""
    if request.param == "sqlite":
        db = await open_seeded(f"sqlite:///{tmp_path / 'report.sqlite3'}")
        yield db
        await db.close()
        return
    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    schema = f"report_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        db = await open_seeded(pg_schema_url(schema))
        yield db
        await db.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


async def report(db: Database, **kw: Any) -> Report:
    query = ReportQuery(start=START, end=END, **kw)
    return await build_report(db, query, BusinessCalendar(calendar_settings()), now=NOW)


async def test_volume_by_channel_and_kind(seeded: Database) -> None:
    r = await report(seeded)
    volume = {(v.channel, v.kind): (v.inbound, v.ignored, v.outbound) for v in r.volume}
    assert volume == {
        ("email", "email"): (3, 1, 0),
        ("x", "dm"): (1, 0, 0),
        ("x", "mention"): (3, 0, 1),
    }
    assert r.channels == ["email", "x"]


async def test_sentiment_distribution_and_mean(seeded: Database) -> None:
    r = await report(seeded)
    rows = {s.channel: s for s in r.sentiment}
    assert (rows["email"].negative, rows["email"].neutral, rows["email"].positive) == (2, 0, 1)
    assert rows["email"].mean_polarity == pytest.approx(-1 / 3)
    assert (rows["x"].negative, rows["x"].neutral, rows["x"].positive) == (2, 1, 1)
    assert rows["x"].mean_polarity == pytest.approx(-0.125)
    assert (rows["all"].negative, rows["all"].neutral, rows["all"].positive) == (4, 1, 2)
    assert rows["all"].mean_polarity == pytest.approx(-1.5 / 7)
    assert rows["all"].scored == 7


async def test_trend_by_day_leaves_out_ignored_and_other_periods(seeded: Database) -> None:
    r = await report(seeded, bucket="day")
    trend = {(t.bucket, t.channel): (t.messages, t.mean_polarity) for t in r.trend}
    assert trend == {
        ("2026-11-02", "x"): (2, pytest.approx(-0.25)),
        ("2026-11-03", "email"): (1, pytest.approx(-1.0)),
        ("2026-11-03", "x"): (1, pytest.approx(0.25)),
        ("2026-11-09", "x"): (1, pytest.approx(-0.25)),
        ("2026-11-10", "email"): (2, pytest.approx(0.0)),
    }
    day = next(t for t in r.trend if t.bucket == "2026-11-10")
    assert (day.negative, day.neutral, day.positive) == (1, 0, 1)


async def test_trend_by_week(seeded: Database) -> None:
    r = await report(seeded, bucket="week")
    trend = {(t.bucket, t.channel): (t.messages, t.mean_polarity) for t in r.trend}
    assert trend == {
        ("2026-11-02", "email"): (1, pytest.approx(-1.0)),
        ("2026-11-02", "x"): (3, pytest.approx(-0.25 / 3)),
        ("2026-11-09", "email"): (2, pytest.approx(0.0)),
        ("2026-11-09", "x"): (1, pytest.approx(-0.25)),
    }


async def test_complaint_topics_follow_agent_corrections(seeded: Database) -> None:
    r = await report(seeded)
    topics = [(t.topic, t.complaints, t.tickets) for t in r.topics]
    # 7 was relabelled praise by an agent; 8 relabelled complaint; 10 is outside the period
    assert topics == [("delivery", 2, 2), ("billing", 1, 1), ("refund", 1, 1), ("(none)", 0, 1)]
    assert r.topics[0].mean_polarity == pytest.approx(-0.75)
    assert r.topics[3].mean_polarity is None


async def test_words_that_drive_negative_sentiment(seeded: Database) -> None:
    r = await report(seeded)
    assert (r.words.negative_messages, r.words.other_messages) == (4, 3)
    words = [(w.word, w.negative, w.other) for w in r.words.words]
    assert words == [("broken", 3, 0), ("late", 2, 0), ("parcel", 2, 1)]
    assert r.words.words[0].score == pytest.approx(math.log(4 / 6) - math.log(1 / 5), abs=1e-4)
    assert r.words.words[2].score == pytest.approx(math.log(1.25), abs=1e-4)


async def test_response_times_median_p90_wall_clock_and_business(seeded: Database) -> None:
    r = (await report(seeded)).response
    assert r.tickets == 5  # ticket 5 opened before the period
    ack, first, resolution = r.durations
    assert (ack.name, ack.count) == ("acknowledgement", 4)
    # wall: [10, 30, 60, 120] s; business: Saturday's 60 s count 0 -> [0, 10, 30, 120]
    assert ack.median_s == pytest.approx(45, abs=0.01)
    assert ack.p90_s == pytest.approx(102, abs=0.01)
    assert ack.business_median_s == pytest.approx(20, abs=0.01)
    assert ack.business_p90_s == pytest.approx(93, abs=0.01)
    # Friday 16:00 -> Monday 10:00 is 66 h of wall clock but 2 business hours
    assert first.count == 2
    assert first.median_s == pytest.approx((7200 + 237600) / 2, abs=0.01)
    assert first.p90_s == pytest.approx(7200 + 0.9 * 230400, abs=0.01)
    assert first.business_median_s == pytest.approx(7200, abs=0.01)
    assert first.business_p90_s == pytest.approx(7200, abs=0.01)
    # Friday 16:00 -> Tuesday 12:00 (a holiday): 92 h wall, 1 + 8 business hours
    assert resolution.count == 2
    assert resolution.median_s == pytest.approx((1800 + 331200) / 2, abs=0.01)
    assert resolution.p90_s == pytest.approx(1800 + 0.9 * 329400, abs=0.01)
    assert resolution.business_median_s == pytest.approx((1800 + 32400) / 2, abs=0.01)
    assert resolution.business_p90_s == pytest.approx(1800 + 0.9 * 30600, abs=0.01)


async def test_sla_compliance_and_csat(seeded: Database) -> None:
    r = (await report(seeded)).response
    # 1 answered in time, 3 not answered and not yet due, 2 answered late, 4 unanswered past
    # due; 6 has no first-response clock
    assert (r.sla_met, r.sla_pending, r.sla_breached) == (1, 1, 2)
    assert r.sla_compliance_pct == pytest.approx(50.0)
    assert (r.csat_asked, r.csat_answered) == (2, 1)
    assert r.csat_average == pytest.approx(4.0)
    assert r.csat_response_rate_pct == pytest.approx(50.0)


async def test_channel_filter_applies_to_every_section(seeded: Database) -> None:
    r = await report(seeded, channel="email")
    assert {v.channel for v in r.volume} == {"email"}
    assert [s.channel for s in r.sentiment] == ["email", "all"]
    assert r.sentiment[-1].negative == 2
    assert {t.channel for t in r.trend} == {"email"}
    assert r.response.tickets == 0  # every ticket of the data set is on x
    assert [(t.topic, t.complaints) for t in r.topics] == [("delivery", 1), ("refund", 1)]


async def test_empty_period_has_no_numbers_but_no_errors(seeded: Database) -> None:
    query = ReportQuery(start=END + timedelta(days=30), end=END + timedelta(days=31))
    r = await build_report(seeded, query, BusinessCalendar(calendar_settings()), now=NOW)
    assert r.volume == [] and r.trend == [] and r.topics == []
    assert r.sentiment[-1].mean_polarity is None
    assert r.response.sla_compliance_pct is None and r.response.csat_response_rate_pct is None
    assert all(d.median_s is None for d in r.response.durations)
