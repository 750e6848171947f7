"""Business calendar: working hours per weekday (split shifts), public holidays, time zone.

The policy's clock counts business hours only: "first human response within 24 business
hours". Times are stored in UTC and the calendar is applied in the configured zone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _parse_span(span: str) -> tuple[time, time]:
    try:
        start_s, end_s = span.split("-")
        start, end = time.fromisoformat(start_s.strip()), time.fromisoformat(end_s.strip())
    except ValueError as exc:
        raise ValueError(f"{span!r} is not a span like '09:00-17:00'") from exc
    if end <= start and end != time(0):
        raise ValueError(f"{span!r} ends before it starts")
    return start, end


class CalendarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "America/New_York"
    hours: dict[str, list[str]] = Field(
        default_factory=lambda: {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    holidays_country: str | None = "US"
    holidays_subdivision: str | None = None
    extra_holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            for span in spans:
                _parse_span(span)
        if not any(value.values()):
            raise ValueError("no working hours at all: the SLA clock would never move")
        return value


class BusinessCalendar:
    def __init__(self, settings: CalendarSettings) -> None:
        self.zone = ZoneInfo(settings.timezone)
        self._spans = {
            WEEKDAYS.index(day): sorted(_parse_span(s) for s in spans)
            for day, spans in settings.hours.items()
        }
        self._extra = set(settings.extra_holidays)
        self._country = settings.holidays_country
        self._subdivision = settings.holidays_subdivision

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one calendar per process, small key space
    def _holidays(self, year: int) -> frozenset[date]:
        if not self._country:
            return frozenset()
        found = holidays.country_holidays(self._country, subdiv=self._subdivision, years=year)
        return frozenset(found.keys())

    def is_holiday(self, day: date) -> bool:
        return day in self._extra or day in self._holidays(day.year)

    def intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The working spans of ``day`` in UTC (none on a holiday), in order."""
        if self.is_holiday(day):
            return
        for start, end in self._spans.get(day.weekday(), []):
            begin = datetime.combine(day, start, self.zone)
            finish = (
                datetime.combine(day + timedelta(days=1), time(0), self.zone)
                if end == time(0)
                else datetime.combine(day, end, self.zone)
            )
            yield begin.astimezone(UTC), finish.astimezone(UTC)

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when ``amount`` of business time has passed after ``start`` (UTC)."""
        remaining = amount
        day = start.astimezone(self.zone).date()
        for _ in range(3660):  # ten years of days: a calendar with hours always ends sooner
            for begin, finish in self.intervals(day):
                if finish <= start:
                    continue
                begin = max(begin, start)
                if finish - begin >= remaining:
                    return begin + remaining
                remaining -= finish - begin
            day += timedelta(days=1)
        raise ValueError("business calendar has no working time in ten years")

    def business_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Business time elapsed from ``start`` to ``end`` (for reports and the SLA clock)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        while day <= last:
            for begin, finish in self.intervals(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total
