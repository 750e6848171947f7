"""Follow-up rules: remind the assignee, nudge the customer, auto-close, ask for CSAT.

Each rule finds its candidates, then changes one ticket per transaction together with its
Event and its outbox row or staff notice. The outbox's and the notices' UNIQUE keys (with a
per-waiting-period dedupe key) make every nudge, notice and survey happen once even when
two schedulers race or a pass is repeated after a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.desk.settings import DeskSettings
from responders.calendar import BusinessCalendar
from responders.canned import Recipient, render, values_for
from storage import sla
from storage.csat import expired, route_survey, survey_row
from storage.db import Database
from storage.models import Customer, Event, Interaction, StaffNotice, Ticket
from storage.staff import add_notice, user_mention
from storage.tickets import outbox_row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Policy:
    """What every rule needs: the database, the calendar, the config, reply limits."""

    db: Database
    calendar: BusinessCalendar
    desk: DeskSettings
    sla_target: timedelta
    company: str
    limit_for: Callable[[str], int]


@dataclass(slots=True)
class TickReport:
    """What one scheduler pass did (ticket ids), for logs and tests."""

    resumed: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    reminded: list[int] = field(default_factory=list)
    nudged: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    csat_asked: list[int] = field(default_factory=list)
    csat_skipped: list[int] = field(default_factory=list)
    csat_expired: list[int] = field(default_factory=list)
    csat_low: list[int] = field(default_factory=list)

    @property
    def outbox_written(self) -> bool:
        return bool(self.nudged or self.closed or self.csat_asked)

    @property
    def notices_written(self) -> bool:
        return bool(self.warned or self.breached or self.reminded or self.csat_low)


def working_day(calendar: BusinessCalendar, day: datetime) -> bool:
    start = datetime.combine(day.date(), time(0), calendar.zone)
    end = datetime.combine(day.date() + timedelta(days=1), time(0), calendar.zone)
    return calendar.business_time_between(start.astimezone(UTC), end.astimezone(UTC)) > timedelta()


def business_days_after(calendar: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The same local time ``days`` working days later (weekends and holidays skipped)."""
    local = start.astimezone(calendar.zone)
    day, counted = local, 0
    for _ in range(3660):
        day = datetime.combine(day.date() + timedelta(days=1), local.timetz())
        counted += working_day(calendar, day)
        if counted == days:
            return datetime.combine(day.date(), local.time(), calendar.zone).astimezone(UTC)
    raise ValueError("business calendar has no working day in ten years")


async def _recipient(session: AsyncSession, ticket: Ticket) -> tuple[Interaction, Recipient]:
    origin = await session.get(Interaction, ticket.origin_interaction_id)
    if origin is None:
        raise LookupError(f"ticket {ticket.id} has lost its first message")
    customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    handle = customer.handle if customer and not customer.erased_at else ""
    return origin, Recipient(handle or "", origin.kind, origin.channel)


def _text(policy: Policy, name: str, who: Recipient, ticket: Ticket) -> str:
    values = values_for(who, ticket=ticket.id, company=policy.company)
    return render(policy.desk.texts[name], values, policy.limit_for(who.channel))


class FollowUps:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def run(self, now: datetime, report: TickReport) -> None:
        await self.remind(now, report)
        await self.waiting_customer(now, report)
        if self.policy.desk.csat.enabled:
            await self.ask_csat(now, report)
        await self.expire_csat(now, report)
        await self.alert_low_csat(report)

    # -- waiting on the company --------------------------------------------------------------
    async def remind(self, now: datetime, report: TickReport) -> None:
        wait = timedelta(hours=self.policy.desk.followup.remind_after_business_hours)
        for ticket in await self._tickets(Ticket.status == sla.OPEN, _not_snoozed(now)):
            since = ticket.waiting_since or ticket.opened_at
            waited = self.policy.calendar.business_time_between(since, now)
            if waited < wait:
                continue
            who = user_mention(ticket.assignee)
            text = (
                f"Reminder: ticket #{ticket.id} has waited on us for "
                f"{waited.total_seconds() / 3600:.1f} business hours"
                + ("." if ticket.assignee else " and nobody has claimed it.")
            )
            async with self.policy.db.transaction() as session:
                key = since.isoformat()
                if not await add_notice(
                    session, ticket.id, "reminder", text, mention=who, dedupe_key=key
                ):
                    continue
                session.add(_system_event("assignee_reminded", ticket, assignee=ticket.assignee))
            report.reminded.append(ticket.id)

    # -- waiting on the customer -------------------------------------------------------------
    async def waiting_customer(self, now: datetime, report: TickReport) -> None:
        rules = self.policy.desk.followup
        for ticket in await self._tickets(Ticket.status == sla.WAITING_CUSTOMER, _not_snoozed(now)):
            since = ticket.waiting_since or ticket.updated_at
            cal = self.policy.calendar
            if now >= business_days_after(cal, since, rules.close_after_business_days):
                if await self._close(ticket.id, since, now):
                    report.closed.append(ticket.id)
                continue
            nudge_at = business_days_after(cal, since, rules.nudge_after_business_days)
            if now >= nudge_at and await self._customer_message(ticket.id, "nudge", since):
                report.nudged.append(ticket.id)

    async def _customer_message(
        self, ticket_id: int, purpose: str, since: datetime, close_at: datetime | None = None
    ) -> bool:
        """Nudge (or close with a notice) once per waiting period: the dedupe key is when the
        wait started, and closing happens in the same transaction as its notice."""
        try:
            async with self.policy.db.transaction() as session:
                ticket = await session.get(Ticket, ticket_id)
                if ticket is None or ticket.status != sla.WAITING_CUSTOMER:
                    return False
                origin, who = await _recipient(session, ticket)
                text = _text(self.policy, purpose, who, ticket)
                session.add(outbox_row(origin, ticket, purpose, since.isoformat(), text, "bot"))
                await session.flush()
                session.add(_system_event(f"{purpose}_queued", ticket))
                if close_at is not None:
                    sla.to_closed(ticket, close_at, self.policy.calendar)
                    if ticket.csat_status is None:
                        ticket.csat_status = "skipped"
                        ticket.csat_note = "auto-closed: the customer did not answer"
                    session.add(_system_event("auto_closed", ticket))
        except IntegrityError:
            return False  # already done for this waiting period
        return True

    async def _close(self, ticket_id: int, since: datetime, now: datetime) -> bool:
        return await self._customer_message(ticket_id, "close_notice", since, close_at=now)

    # -- CSAT ---------------------------------------------------------------------------------
    async def ask_csat(self, now: datetime, report: TickReport) -> None:
        settings = self.policy.desk.csat
        ready = now - timedelta(minutes=settings.delay_minutes)
        for ticket in await self._tickets(
            Ticket.status == sla.RESOLVED, Ticket.csat_status.is_(None), Ticket.resolved_at <= ready
        ):
            asked = await self._ask(ticket.id, now, set(settings.dm_channels))
            (report.csat_asked if asked else report.csat_skipped).append(ticket.id)

    async def _ask(self, ticket_id: int, now: datetime, dm_channels: set[str]) -> bool:
        async with self.policy.db.transaction() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None or ticket.csat_status is not None:
                return False
            origin, who = await _recipient(session, ticket)
            customer = (
                await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
            )
            route = route_survey(origin, customer, dm_channels)
            if route.kind is None:
                ticket.csat_status, ticket.csat_note = "skipped", route.reason[:255]
                session.add(_system_event("csat_skipped", ticket, reason=route.reason))
                return False
            private = Recipient(who.handle, route.kind, who.channel)
            session.add(
                survey_row(origin, ticket, route.kind, _text(self.policy, "csat", private, ticket))
            )
            ticket.csat_status, ticket.csat_asked_at = "asked", now
            session.add(_system_event("csat_asked", ticket, kind=route.kind))
            return True

    async def expire_csat(self, now: datetime, report: TickReport) -> None:
        window = self.policy.desk.csat.answer_window_days
        for ticket in await self._tickets(Ticket.csat_status == "asked"):
            if not expired(ticket, now, window):
                continue
            async with self.policy.db.transaction() as session:
                row = await session.get(Ticket, ticket.id)
                if row is None or row.csat_status != "asked":
                    continue
                row.csat_status = "expired"
                session.add(_system_event("csat_expired", row))
            report.csat_expired.append(ticket.id)

    async def alert_low_csat(self, report: TickReport) -> None:
        low = self.policy.desk.csat.low_score_at_most
        already = exists().where(
            and_(StaffNotice.ticket_id == Ticket.id, StaffNotice.kind == "csat_low")
        )
        for ticket in await self._tickets(
            Ticket.csat_status == "answered", Ticket.csat_score <= low, ~already
        ):
            text = (
                f"Low satisfaction: the customer rated ticket #{ticket.id} {ticket.csat_score}/5."
            )
            async with self.policy.db.transaction() as session:
                if not await add_notice(session, ticket.id, "csat_low", text):
                    continue
                session.add(_system_event("csat_low_alerted", ticket, score=ticket.csat_score))
            report.csat_low.append(ticket.id)

    async def _tickets(self, *where: object) -> list[Ticket]:
        async with self.policy.db.session() as session:
            rows = await session.scalars(select(Ticket).where(*where).order_by(Ticket.id))  # type: ignore[arg-type]
            return list(rows)


def _not_snoozed(now: datetime) -> object:
    return or_(Ticket.snoozed_until.is_(None), Ticket.snoozed_until <= now)


def _system_event(event_type: str, ticket: Ticket, **data: object) -> Event:
    return Event(actor="system", type=event_type, ticket_id=ticket.id, data=data)
