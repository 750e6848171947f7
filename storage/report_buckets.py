"""Report periods cut into days or ISO weeks of the business calendar's time zone.

The bounds are computed here, DST-correct (a day can last 23 or 25 hours), and handed to SQL
as plain range parameters: marketing's "Monday" is the company's Monday, not UTC's, and the
same statements run on SQLite and PostgreSQL without date functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.errors import UserInputError

Bucket = Literal["day", "week"]
BUCKETS: tuple[Bucket, ...] = ("day", "week")
MAX_BUCKETS = 800  # about two years of days: beyond that, ask for weeks


@dataclass(frozen=True, slots=True)
class Slice:
    label: str  # the bucket's first local day, 'YYYY-MM-DD'
    start: datetime  # UTC, inclusive (clipped to the period)
    end: datetime  # UTC, exclusive (clipped to the period)


def _first_day(day: date, bucket: Bucket) -> date:
    return day - timedelta(days=day.weekday()) if bucket == "week" else day


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def slices(start: datetime, end: datetime, bucket: Bucket, zone: ZoneInfo) -> list[Slice]:
    """Consecutive buckets covering [start, end), the first and last clipped to the period."""
    if bucket not in BUCKETS:
        raise UserInputError(f"unknown bucket {bucket!r}; use day or week")
    if end <= start:
        return []
    step = timedelta(days=7 if bucket == "week" else 1)
    day = _first_day(start.astimezone(zone).date(), bucket)
    out: list[Slice] = []
    while _midnight(day, zone) < end:
        lo = max(_midnight(day, zone), start)
        hi = min(_midnight(day + step, zone), end)
        if hi > lo:
            out.append(Slice(day.isoformat(), lo, hi))
        day += step
        if len(out) > MAX_BUCKETS:
            raise UserInputError(
                f"the period has more than {MAX_BUCKETS} {bucket}s: use --by week or a shorter one"
            )
    return out
