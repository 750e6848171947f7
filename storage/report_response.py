"""The policy's clocks over the period's tickets: acknowledgement, first response, resolution.

Percentiles need every duration, and business hours need the calendar (holidays, split
shifts, a time zone) that SQL cannot apply; so the per-ticket timestamps of the period's
tickets are read (only those columns, from a covering index, as epoch seconds) and reduced
here with numpy. That is acceptable for tickets — a small fraction of the interactions, which
are always aggregated in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from responders.calendar import BusinessCalendar
from storage.models import Ticket
from storage.report_sql import epoch_seconds
from storage.report_types import DurationStats, ReportQuery, ResponseMetrics

Floats = npt.NDArray[np.float64]

CLOCKS = ("acknowledgement", "first_response", "resolution")
# Columns of the ticket matrix, in tickets_query's order.
OPENED, ACKNOWLEDGED, FIRST_RESPONSE, DUE, RESOLVED, CSAT_SCORE, CSAT_ASKED = range(7)
STOPS = {"acknowledgement": ACKNOWLEDGED, "first_response": FIRST_RESPONSE, "resolution": RESOLVED}


def percentile(values: Sequence[float] | Floats, fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont, numpy's default).

    p90 of [10, 20, 30, 40] is 37: position 0.9 * 3 = 2.7, between 30 and 40.
    """
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), fraction * 100))


def tickets_query(query: ReportQuery, dialect: str) -> Select[Any]:
    """The period's tickets (by opening time) as numbers, one column per clock event."""
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
    """Business seconds between moments, for tens of thousands of tickets at once.

    ``BusinessCalendar.business_time_between`` walks day by day; calling it three times per
    ticket costs seconds on a busy month. Here the calendar's working intervals over the
    whole span are laid out once, with running totals, and every moment is placed by a
    binary search. The result is the same (tests compare the two).
    """

    def __init__(self, calendar: BusinessCalendar, first: float, last: float) -> None:
        starts: list[float] = []
        ends: list[float] = []
        day = datetime.fromtimestamp(first, calendar.zone).date() - timedelta(days=1)
        end_day = datetime.fromtimestamp(last, calendar.zone).date() + timedelta(days=1)
        while day <= end_day:
            for begin, finish in calendar.intervals(day):
                starts.append(begin.timestamp())
                ends.append(finish.timestamp())
            day += timedelta(days=1)
        self._starts = np.array(starts, dtype=np.float64)
        self._ends = np.array(ends, dtype=np.float64)
        lengths = self._ends - self._starts
        self._before = np.concatenate(([0.0], np.cumsum(lengths)[:-1])) if starts else lengths

    def _position(self, moments: Floats) -> Floats:
        """Business seconds from the start of the laid-out span to each moment."""
        if self._starts.size == 0:
            return np.zeros_like(moments)
        index = np.searchsorted(self._starts, moments, side="right") - 1
        safe = np.clip(index, 0, None)
        inside = np.minimum(moments, self._ends[safe]) - self._starts[safe]
        return np.where(index < 0, 0.0, self._before[safe] + inside)

    def between_many(self, starts: Floats, ends: Floats) -> Floats:
        spans = self._position(ends) - self._position(starts)
        return np.where(ends > starts, spans, 0.0)

    def between(self, start: float, end: float) -> float:
        return float(self.between_many(np.array([start]), np.array([end]))[0])


def _durations(times: Floats, clock: str, hours: BusinessClock) -> DurationStats:
    stopped = times[~np.isnan(times[:, STOPS[clock]])]
    opened, stop = stopped[:, OPENED], stopped[:, STOPS[clock]]
    wall = np.maximum(stop - opened, 0.0)
    business = hours.between_many(opened, stop)
    return DurationStats(
        name=clock,
        count=int(stopped.shape[0]),
        median_s=percentile(wall, 0.5),
        p90_s=percentile(wall, 0.9),
        business_median_s=percentile(business, 0.5),
        business_p90_s=percentile(business, 0.9),
    )


def _clock_for(times: Floats, calendar: BusinessCalendar) -> BusinessClock:
    moments = times[:, [OPENED, ACKNOWLEDGED, FIRST_RESPONSE, RESOLVED]]
    if np.isnan(moments).all():
        now = datetime.now(UTC).timestamp()
        return BusinessClock(calendar, now, now)
    return BusinessClock(calendar, float(np.nanmin(moments)), float(np.nanmax(moments)))


def summarise(times: Floats, calendar: BusinessCalendar, now: datetime) -> ResponseMetrics:
    """``times``: one row per ticket, the columns of tickets_query, NaN where NULL."""
    times = times.reshape(-1, 7)
    due, first = times[:, DUE], times[:, FIRST_RESPONSE]
    has_clock, answered = ~np.isnan(due), ~np.isnan(first)
    met = has_clock & answered & (first <= due)
    pending = has_clock & ~answered & (now.timestamp() <= due)
    scores = times[:, CSAT_SCORE][~np.isnan(times[:, CSAT_SCORE])]
    asked = ~np.isnan(times[:, CSAT_ASKED]) | ~np.isnan(times[:, CSAT_SCORE])
    hours = _clock_for(times, calendar)
    return ResponseMetrics(
        tickets=int(times.shape[0]),
        durations=[_durations(times, clock, hours) for clock in CLOCKS],
        sla_met=int(met.sum()),
        sla_pending=int(pending.sum()),
        sla_breached=int((has_clock & ~met & ~pending).sum()),
        csat_asked=int(asked.sum()),
        csat_answered=int(scores.size),
        csat_average=float(scores.mean()) if scores.size else None,
    )


async def response_metrics(
    session: AsyncSession,
    query: ReportQuery,
    calendar: BusinessCalendar,
    now: datetime,
    dialect: str,
) -> ResponseMetrics:
    rows = (await session.execute(tickets_query(query, dialect))).all()
    # NULL -> NaN; PostgreSQL's epochs are Decimal, numpy converts them
    times = np.array([tuple(row) for row in rows], dtype=np.float64).reshape(-1, 7)
    return summarise(times, calendar, now)


def format_duration(seconds: float | None) -> str:
    """'-' | '45s' | '12m' | '3h 05m' | '2d 4h': short enough for a table cell."""
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m"
    if total < 86400:
        return f"{total // 3600}h {total % 3600 // 60:02d}m"
    return f"{total // 86400}d {total % 86400 // 3600}h"
