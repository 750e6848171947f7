"""The policy's clock as a daemon service: SLA warnings and breaches, follow-ups, CSAT.

Every pass reads the time from an injected :class:`Clock`, so tests move time by hand and
call :meth:`Scheduler.tick` instead of sleeping. A warning (at 75% of the first-response
time, configurable) and a breach are each recorded once: a conditional UPDATE on the
ticket's column decides, and the staff notice and Event are written in that same
transaction. A breach pings the escalation role.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, cast

from sqlalchemy import CursorResult, select, update

from bot.desk.followups import FollowUps, Policy, TickReport
from responders.calendar import BusinessCalendar
from responders.templates import Templates
from storage import sla
from storage.models import Event, Ticket
from storage.staff import add_notice, user_mention

if TYPE_CHECKING:
    from bot.config import Config
    from bot.daemon import Daemon
    from storage.db import Database

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")


class Scheduler:
    """Runs every ``interval`` seconds until cancelled; one pass is :meth:`tick`."""

    name = "scheduler"

    def __init__(
        self,
        policy: Policy,
        clock: Clock,
        *,
        interval: float = 60.0,
        on_outbox: Callable[[], None] = lambda: None,
        on_staff: Callable[[], None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.clock = clock
        self.interval = interval
        self.followups = FollowUps(policy)
        self.on_outbox = on_outbox  # wake the sender: nudges, notices to customers, surveys
        self.on_staff = on_staff  # wake the staff board: warnings, breaches, reminders

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a database hiccup must not stop the policy clock for good
                log.exception("scheduler pass failed; trying again next interval")
            await self.clock.sleep(self.interval)

    async def tick(self) -> TickReport:
        now = self.clock.now()
        report = TickReport()
        await self.resume_paused(now, report)
        await self.check_sla(now, report)
        await self.followups.run(now, report)
        if report.outbox_written:
            self.on_outbox()
        if report.notices_written or report.outbox_written:
            self.on_staff()
        if any(getattr(report, f) for f in report.__slots__):
            log.info("scheduler pass: %s", _summary(report))
        return report

    async def resume_paused(self, now: datetime, report: TickReport) -> None:
        """Restart clocks the customer paused and restarted by writing (from when they wrote)."""
        async with self.policy.db.transaction() as session:
            rows = await session.scalars(
                select(Ticket).where(Ticket.status == sla.OPEN, Ticket.sla_paused_at.is_not(None))
            )
            for ticket in rows:
                sla.resume(ticket, ticket.waiting_since or now, self.policy.calendar)
                ticket.updated_at = now
                report.resumed.append(ticket.id)

    async def check_sla(self, now: datetime, report: TickReport) -> None:
        async with self.policy.db.session() as session:
            running = list(
                await session.scalars(
                    select(Ticket).where(
                        Ticket.status == sla.OPEN,
                        Ticket.first_response_at.is_(None),
                        Ticket.first_response_due_at.is_not(None),
                        Ticket.sla_paused_at.is_(None),
                        Ticket.sla_breached_at.is_(None),
                    )
                )
            )
        warn_left = self.policy.sla_target * (1 - self.policy.desk.followup.sla_warn_fraction)
        for ticket in running:
            due = ticket.first_response_due_at
            assert due is not None
            if now >= due:
                if await self._mark(ticket, "sla_breached_at", now, self._breach_text(ticket, due)):
                    report.breached.append(ticket.id)
            elif ticket.sla_warned_at is None:
                left = self.policy.calendar.business_time_between(now, due)
                if left <= warn_left and await self._mark(
                    ticket, "sla_warned_at", now, self._warning_text(ticket, due, left)
                ):
                    report.warned.append(ticket.id)

    async def _mark(self, ticket: Ticket, column: str, now: datetime, text: str) -> bool:
        """Set the column if still empty, with its Event and staff notice; once ever."""
        breach = column == "sla_breached_at"
        async with self.policy.db.transaction() as session:
            result = await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket.id, getattr(Ticket, column).is_(None))
                .values({column: now, "updated_at": now})
            )
            if cast(CursorResult[object], result).rowcount != 1:
                return False
            kind = "sla_breach" if breach else "sla_warning"
            role = self.policy.desk.staff.escalation_role_id
            mention = f"role:{role}" if breach and role else user_mention(ticket.assignee)
            await add_notice(session, ticket.id, kind, text, mention=mention)
            due = ticket.first_response_due_at
            session.add(
                Event(
                    actor="system",
                    type="sla_breached" if breach else "sla_warning",
                    ticket_id=ticket.id,
                    data={"due": due.isoformat() if due else None},
                )
            )
        log.warning("ticket=%s %s", ticket.id, "SLA breached" if breach else "SLA warning")
        return True

    def _warning_text(self, ticket: Ticket, due: datetime, left: timedelta) -> str:
        hours = left.total_seconds() / 3600
        percent = round(self.policy.desk.followup.sla_warn_fraction * 100)
        return (
            f"SLA warning: ticket #{ticket.id} ({ticket.label}, {ticket.channel}) has used "
            f"{percent}% of its first-response time; {hours:.1f} business hours left, "
            f"due {_stamp(due)}."
        )

    def _breach_text(self, ticket: Ticket, due: datetime) -> str:
        return (
            f"SLA breached: ticket #{ticket.id} ({ticket.label}, {ticket.channel}) had no "
            f"human response by {_stamp(due)}."
        )


def _summary(report: TickReport) -> str:
    return " ".join(
        f"{name}={len(getattr(report, name))}" for name in report.__slots__ if getattr(report, name)
    )


def policy_from(config: Config, db: Database, limits: dict[str, int] | None = None) -> Policy:
    """The follow-up policy from the config (``limits``: connectors' own length limits)."""
    templates = Templates(config.replies)
    known = limits or {}
    return Policy(
        db=db,
        calendar=BusinessCalendar(config.calendar),
        desk=config.desk,
        sla_target=timedelta(hours=config.tickets.first_response_business_hours),
        company=config.replies.company,
        limit_for=lambda channel: templates.limit_for(channel, known.get(channel)),
    )


def build_scheduler(daemon: Daemon) -> Scheduler | None:
    """The BUILDERS entry: None when ``[desk.scheduler] enabled = false``."""
    settings = daemon.config.desk.scheduler
    if not settings.enabled:
        return None
    limits = {c.name: c.max_length for c in daemon.connectors}
    return Scheduler(
        policy_from(daemon.config, daemon.storage.db, limits),
        SystemClock(),
        interval=settings.interval_seconds,
        on_outbox=daemon.sender.wake,
    )
