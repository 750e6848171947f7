"""The policy's clocks over the period's tickets: acknowledgement, first response, resolution.

Percentiles need every duration, and business hours need the calendar (holidays, split
shifts, a time zone) that SQL cannot apply; so the per-ticket timestamps of the period's
tickets are read (only those columns) and reduced here. That is acceptable for tickets — a
small fraction of the interactions, which are always aggregated in SQL.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from responders.calendar import BusinessCalendar
from storage.models import Ticket
from storage.report_sql import epoch_seconds
from storage.report_types import DurationStats, ReportQuery, ResponseMetrics

CLOCKS = ("acknowledgement", "first_response", "resolution")


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default).

    p90 of [10, 20, 30, 40] is 37: position 0.9 * 3 = 2.7, between 30 and 40.
    """
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    weight = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight


@dataclass(frozen=True, slots=True)
class TicketTimes:
    """One ticket's clock, as epoch seconds (UTC)."""

    opened: float
    acknowledged: float | None
    first_response: float | None
    first_response_due: float | None
    resolved: float | None
    csat_score: int | None
    csat_asked: float | None

    def stop(self, clock: str) -> float | None:
        if clock == "acknowledgement":
            return self.acknowledged
        if clock == "first_response":
            return self.first_response
        return self.resolved


def tickets_query(query: ReportQuery, dialect: str) -> Select[Any]:
    """The period's tickets (by opening time) as numbers, in TicketTimes' field order."""
    t = Ticket
    stmt = select(
        epoch_seconds(t.opened_at, dialect),
        epoch_seconds(t.acknowledged_at, dialect),
        epoch_seconds(t.first_response_at, dialect),
        epoch_seconds(t.first_response_due_at, dialect),
        epoch_seconds(t.resolved_at, dialect),
        t.csat_score,
        epoch_seconds(t.csat_asked_at, dialect),
    ).where(t.opened_at >= query.start, t.opened_at < query.end)
    if query.channel:
        stmt = stmt.where(t.channel == query.channel)
    return stmt


class BusinessClock:
    """Business seconds between two moments in O(log n), for tens of thousands of tickets.

    ``BusinessCalendar.business_time_between`` walks day by day; calling it three times per
    ticket costs seconds on a busy month. Here the calendar's working intervals over the
    whole span are laid out once, with running totals, and each moment is found by bisection.
    The result is the same (tests compare the two).
    """

    def __init__(self, calendar: BusinessCalendar, first: float, last: float) -> None:
        self._starts: list[float] = []
        self._ends: list[float] = []
        self._before: list[float] = []  # business seconds before each interval
        total = 0.0
        day = datetime.fromtimestamp(first, calendar.zone).date() - timedelta(days=1)
        end_day = datetime.fromtimestamp(last, calendar.zone).date() + timedelta(days=1)
        while day <= end_day:
            for begin, finish in calendar._intervals(day):  # the calendar's own working hours
                self._starts.append(begin.timestamp())
                self._ends.append(finish.timestamp())
                self._before.append(total)
                total += finish.timestamp() - begin.timestamp()
            day += timedelta(days=1)

    def _position(self, moment: float) -> float:
        """Business seconds from the start of the laid-out span to ``moment``."""
        index = bisect.bisect_right(self._starts, moment) - 1
        if index < 0:
            return 0.0
        return self._before[index] + min(moment, self._ends[index]) - self._starts[index]

    def between(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        return self._position(end) - self._position(start)


def _clock_for(tickets: Sequence[TicketTimes], calendar: BusinessCalendar) -> BusinessClock:
    moments = [t.opened for t in tickets]
    moments += [m for t in tickets for m in (t.acknowledged, t.first_response, t.resolved) if m]
    now = datetime.now(UTC).timestamp()
    return BusinessClock(calendar, min(moments, default=now), max(moments, default=now))


def _durations(tickets: Sequence[TicketTimes], clock: str, hours: BusinessClock) -> DurationStats:
    wall: list[float] = []
    business: list[float] = []
    for t in tickets:
        stop = t.stop(clock)
        if stop is None:
            continue
        wall.append(max(stop - t.opened, 0.0))
        business.append(hours.between(t.opened, stop))
    wall.sort()
    business.sort()
    return DurationStats(
        name=clock,
        count=len(wall),
        median_s=percentile(wall, 0.5),
        p90_s=percentile(wall, 0.9),
        business_median_s=percentile(business, 0.5),
        business_p90_s=percentile(business, 0.9),
    )


def sla_state(t: TicketTimes, now: float) -> str | None:
    """met | pending | breached; None for a ticket without a first-response clock."""
    due = t.first_response_due
    if due is None:
        return None
    if t.first_response is not None:
        return "met" if t.first_response <= due else "breached"
    return "pending" if now <= due else "breached"


def summarise(
    tickets: Sequence[TicketTimes], calendar: BusinessCalendar, now: datetime
) -> ResponseMetrics:
    states = [sla_state(t, now.timestamp()) for t in tickets]
    hours = _clock_for(tickets, calendar)
    scores = [t.csat_score for t in tickets if t.csat_score is not None]
    asked = sum(1 for t in tickets if t.csat_asked is not None or t.csat_score is not None)
    return ResponseMetrics(
        tickets=len(tickets),
        durations=[_durations(tickets, clock, hours) for clock in CLOCKS],
        sla_met=states.count("met"),
        sla_pending=states.count("pending"),
        sla_breached=states.count("breached"),
        csat_asked=asked,
        csat_answered=len(scores),
        csat_average=(sum(scores) / len(scores)) if scores else None,
    )


async def response_metrics(
    session: AsyncSession,
    query: ReportQuery,
    calendar: BusinessCalendar,
    now: datetime,
    dialect: str,
) -> ResponseMetrics:
    rows = (await session.execute(tickets_query(query, dialect))).all()
    return summarise([_times(row) for row in rows], calendar, now)


def _times(row: Sequence[Any]) -> TicketTimes:
    opened, acknowledged, first, due, resolved, score, asked = row
    return TicketTimes(
        float(opened),
        _number(acknowledged),
        _number(first),
        _number(due),
        _number(resolved),
        None if score is None else int(score),
        _number(asked),
    )


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def format_duration(seconds: float | None) -> str:
    """'-' | '45s' | '12m' | '3h 05m' | '2d 4h': short enough for a table cell."""
    if seconds is None:
        return "-"
    delta = timedelta(seconds=round(seconds))
    total = int(delta.total_seconds())
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"{total // 86400}d {total % 86400 // 3600}h"
