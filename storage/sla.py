"""The ticket's state machine and its policy clock, applied to a loaded ``Ticket`` row.

The clock is "first human response within N business hours". It runs while the ticket
waits on the company (status ``open``), pauses while it waits on the customer
(``waiting_customer``) and stops on resolve or close. How the due time moves: on pause we
store the business time still left (``sla_remaining_seconds``) and when the clock starts
again the new due time is that much business time after the restart. Recomputing from the
stored remainder, rather than summing pauses, keeps the due time exact across weekends,
holidays and split shifts (``BusinessCalendar`` does the counting) and keeps
``first_response_due_at`` meaningful while the ticket is open.

Every transition also records ``waiting_since``: when the ball last changed sides, which
the follow-up rules (reminders, nudges, auto-close) measure from.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from responders.calendar import BusinessCalendar
from storage.models import Ticket

OPEN = "open"
WAITING_CUSTOMER = "waiting_customer"
RESOLVED = "resolved"
CLOSED = "closed"
ACTIVE = (OPEN, WAITING_CUSTOMER)


def clock_running(ticket: Ticket) -> bool:
    """True while the first-response clock counts against the company."""
    return (
        ticket.status == OPEN
        and ticket.first_response_at is None
        and ticket.first_response_due_at is not None
        and ticket.sla_paused_at is None
    )


def pause(ticket: Ticket, now: datetime, calendar: BusinessCalendar | None) -> None:
    """Stop counting; remember how much business time was left."""
    if ticket.sla_paused_at is not None or ticket.first_response_at is not None:
        return
    due = ticket.first_response_due_at
    if due is None:
        return
    left = calendar.business_time_between(now, due) if calendar else max(due - now, timedelta(0))
    ticket.sla_paused_at = now
    ticket.sla_remaining_seconds = left.total_seconds()


def resume(ticket: Ticket, now: datetime, calendar: BusinessCalendar | None) -> None:
    """Count again from ``now`` with the business time that was left at the pause.

    Without a calendar (a caller that has none) the pause is kept and the scheduler, which
    has one, resumes it from ``waiting_since`` on its next pass.
    """
    if ticket.sla_paused_at is None or calendar is None:
        return
    left = timedelta(seconds=ticket.sla_remaining_seconds or 0.0)
    if ticket.first_response_at is None and ticket.first_response_due_at is not None and left:
        ticket.first_response_due_at = calendar.add_business_time(now, left)
    ticket.sla_paused_at = None
    ticket.sla_remaining_seconds = None


def to_company(ticket: Ticket, now: datetime, calendar: BusinessCalendar | None) -> bool:
    """The ticket waits on us again (customer wrote, agent reopened). Returns reopened."""
    reopened = ticket.status not in ACTIVE
    if ticket.status != OPEN:
        ticket.status = OPEN
        ticket.waiting_since = now
    ticket.resolved_at = None if reopened else ticket.resolved_at
    ticket.closed_at = None
    resume(ticket, now, calendar)
    ticket.updated_at = now
    return reopened


def to_customer(ticket: Ticket, now: datetime, calendar: BusinessCalendar | None) -> None:
    """We answered and wait for the customer: the clock pauses."""
    if ticket.status != WAITING_CUSTOMER:
        ticket.status = WAITING_CUSTOMER
        ticket.waiting_since = now
    pause(ticket, now, calendar)
    ticket.updated_at = now


def to_resolved(
    ticket: Ticket, now: datetime, calendar: BusinessCalendar | None, resolution: str
) -> None:
    ticket.status, ticket.resolution, ticket.resolved_at = RESOLVED, resolution, now
    ticket.waiting_since = now
    pause(ticket, now, calendar)
    ticket.updated_at = now


def to_closed(ticket: Ticket, now: datetime, calendar: BusinessCalendar | None) -> None:
    ticket.status, ticket.closed_at, ticket.waiting_since = CLOSED, now, now
    pause(ticket, now, calendar)
    ticket.updated_at = now
