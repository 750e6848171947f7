"""Report building blocks: buckets across DST, the fast business clock, percentiles, words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import UserInputError
from responders.calendar import BusinessCalendar, CalendarSettings
from storage.report_buckets import slices
from storage.report_response import BusinessClock, format_duration, percentile
from storage.report_words import rank_words, tokens

NEW_YORK = ZoneInfo("America/New_York")


def test_day_buckets_follow_the_business_time_zone_across_dst() -> None:
    # 2026-11-01 is the Sunday when New York leaves summer time: that day lasts 25 hours
    start = datetime(2026, 10, 31, 4, tzinfo=UTC)  # Saturday 00:00 EDT
    end = datetime(2026, 11, 3, 5, tzinfo=UTC)  # Tuesday 00:00 EST
    cut = slices(start, end, "day", NEW_YORK)
    assert [s.label for s in cut] == ["2026-10-31", "2026-11-01", "2026-11-02"]
    assert [s.end - s.start for s in cut] == [
        timedelta(hours=24),
        timedelta(hours=25),
        timedelta(hours=24),
    ]
    assert cut[0].start == start and cut[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(cut))


def test_week_buckets_start_on_monday_and_are_clipped_to_the_period() -> None:
    start = datetime(2026, 11, 4, 12, tzinfo=UTC)  # a Wednesday
    end = datetime(2026, 11, 17, tzinfo=UTC)
    cut = slices(start, end, "week", ZoneInfo("UTC"))
    assert [s.label for s in cut] == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert cut[0].start == start  # clipped, though labelled by its Monday
    assert cut[1].end - cut[1].start == timedelta(days=7)
    assert cut[2].end == end


def test_too_many_buckets_is_a_clear_user_error() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(UserInputError, match="--by week"):
        slices(start, start + timedelta(days=1000), "day", ZoneInfo("UTC"))
    assert slices(start, start, "day", ZoneInfo("UTC")) == []


CALENDAR = BusinessCalendar(
    CalendarSettings(
        timezone="America/New_York",
        hours={
            "mon": ["09:00-12:00", "13:00-17:00"],
            "tue": ["09:00-17:00"],
            "sat": ["22:00-00:00"],
        },
        holidays_country="US",
        extra_holidays=[date(2026, 3, 10)],
    )
)
BASE = datetime(2026, 3, 1, tzinfo=UTC)  # the span crosses the March DST change


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=40 * 86400),
    st.integers(min_value=0, max_value=20 * 86400),
)
def test_fast_business_clock_equals_the_calendar(offset: int, length: int) -> None:
    start = BASE + timedelta(seconds=offset)
    end = start + timedelta(seconds=length)
    clock = BusinessClock(CALENDAR, BASE.timestamp(), (BASE + timedelta(days=61)).timestamp())
    expected = CALENDAR.business_time_between(start, end).total_seconds()
    assert clock.between(start.timestamp(), end.timestamp()) == pytest.approx(expected, abs=1e-6)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.5) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "-"), (45.4, "45s"), (720, "12m"), (3 * 3600 + 300, "3h 05m"), (52 * 3600, "2d 4h")],
)
def test_durations_are_short_for_people(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_tokens_drop_links_handles_and_stop_words() -> None:
    found = tokens("@acme your APP crashed again!!! https://t.co/x #fail It's broken, I'm done")
    assert found == {"app", "crashed", "broken"}  # "again", "done": stop words


def test_a_single_rant_cannot_top_the_word_list() -> None:
    from collections import Counter

    negative = Counter({"refund": 30, "ragequit": 1, "late": 12})
    other = Counter({"late": 10, "refund": 1})
    rows = rank_words(negative, 100, other, 100, top=5)
    assert [r.word for r in rows] == ["refund", "late"]  # "ragequit" is under the 1 % floor
    assert rows[0].score > rows[1].score > 0
