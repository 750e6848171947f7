"""Tickets as agents work them: list, show, claim, assign, reply, note, snooze, resolve,
reopen, label — each action one transaction that changes the ticket and appends an Event.

The agent desk (Discord commands, buttons) and the CLI both call this repository, so an
action means the same thing wherever it was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound, UserInputError, shown
from responders.calendar import BusinessCalendar
from responders.canned import Recipient
from storage import sla
from storage.db import Database
from storage.models import Customer, Event, Interaction, OutboxMessage, Ticket, now_utc

RESOLUTIONS = ("refund", "replacement", "info", "other")
LABELS = ("complaint", "not_complaint")


@dataclass(frozen=True, slots=True)
class TicketSummary:
    id: int
    status: str
    priority: str
    label: str
    topic: str | None
    channel: str
    customer: str
    assignee: str | None
    opened_at: datetime
    first_response_due_at: datetime | None
    first_response_at: datetime | None
    excerpt: str
    snoozed_until: datetime | None = None
    sla_breached_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TicketDetail:
    summary: TicketSummary
    messages: list[Interaction]
    events: list[Event]


def _summary(
    ticket: Ticket, customer: Customer | None, origin: Interaction | None
) -> TicketSummary:
    who = "(erased)" if customer and customer.erased_at else (customer.handle if customer else "?")
    text = origin.text if origin else ""
    return TicketSummary(
        id=ticket.id,
        status=ticket.status,
        priority=ticket.priority,
        label=(origin.agent_label if origin and origin.agent_label else ticket.label),
        topic=ticket.topic,
        channel=ticket.channel,
        customer=who or "?",
        assignee=ticket.assignee,
        opened_at=ticket.opened_at,
        first_response_due_at=ticket.first_response_due_at,
        first_response_at=ticket.first_response_at,
        excerpt=text if len(text) <= 80 else text[:79] + "…",
        snoozed_until=ticket.snoozed_until,
        sla_breached_at=ticket.sla_breached_at,
    )


async def _ticket(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"no ticket #{ticket_id}")
    return ticket


def _event(actor: str, kind: str, ticket: Ticket, **data: Any) -> Event:
    return Event(actor=actor, type=kind, ticket_id=ticket.id, data=data)


class TicketRepo:
    """``calendar`` moves the SLA clock on pause/resume; ``now`` is injectable for tests."""

    def __init__(
        self,
        db: Database,
        calendar: BusinessCalendar | None = None,
        now: Callable[[], datetime] = now_utc,
    ) -> None:
        self.db = db
        self.calendar = calendar
        self.now = now

    # -- reading ---------------------------------------------------------------------------
    async def list(
        self,
        statuses: tuple[str, ...] | None = None,
        limit: int = 100,
        *,
        hide_snoozed: bool = False,
    ) -> list[TicketSummary]:
        async with self.db.session() as session:
            query = (
                select(Ticket, Customer, Interaction)
                .join(Customer, Customer.id == Ticket.customer_id, isouter=True)
                .join(Interaction, Interaction.id == Ticket.origin_interaction_id, isouter=True)
                .order_by(
                    Ticket.first_response_due_at.is_(None), Ticket.first_response_due_at, Ticket.id
                )
                .limit(limit)
            )
            if statuses:
                query = query.where(Ticket.status.in_(statuses))
            if hide_snoozed:
                now = self.now()
                query = query.where(
                    (Ticket.snoozed_until.is_(None)) | (Ticket.snoozed_until <= now)
                )
            rows = (await session.execute(query)).all()
            return [_summary(t, c, i) for t, c, i in rows]

    async def show(self, ticket_id: int) -> TicketDetail:
        async with self.db.session() as session:
            ticket = await _ticket(session, ticket_id)
            customer = (
                await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
            )
            messages = list(
                await session.scalars(
                    select(Interaction)
                    .where(Interaction.ticket_id == ticket_id)
                    .order_by(Interaction.created_at, Interaction.id)
                )
            )
            origin = next((m for m in messages if m.id == ticket.origin_interaction_id), None)
            if origin is None:
                origin = await session.get(Interaction, ticket.origin_interaction_id)
            events = list(
                await session.scalars(
                    select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)
                )
            )
            return TicketDetail(_summary(ticket, customer, origin), messages, events)

    async def recipient(self, ticket_id: int) -> Recipient:
        """Who a reply on this ticket reaches (for filling in canned replies)."""
        async with self.db.session() as session:
            ticket = await _ticket(session, ticket_id)
            origin = await session.get(Interaction, ticket.origin_interaction_id)
            customer = (
                await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
            )
            handle = customer.handle if customer and not customer.erased_at else None
            kind = origin.kind if origin else "mention"
            return Recipient(handle=handle or "", kind=kind, channel=ticket.channel)

    # -- acting ------------------------------------------------------------------------------
    async def reply(
        self, ticket_id: int, text: str, actor: str, *, canned: str | None = None
    ) -> int:
        """Queue an agent's reply through the ticket's own channel and thread."""
        text = text.strip()
        if not text:
            raise UserInputError("the reply text is empty")
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            if ticket.status == sla.CLOSED:
                raise UserInputError(f"ticket #{ticket_id} is closed; reopen it first")
            origin = await session.get(Interaction, ticket.origin_interaction_id)
            if origin is None:
                raise NotFound(f"ticket #{ticket_id} has lost its first message")
            data: dict[str, Any] = {"length": len(text)}
            if canned:
                data["canned"] = canned
            event = _event(actor, "agent_reply_queued", ticket, **data)
            session.add(event)
            await session.flush()
            item = outbox_row(origin, ticket, "agent_reply", f"event-{event.id}", text, actor)
            session.add(item)
            if ticket.status == sla.OPEN:
                sla.to_customer(ticket, self.now(), self.calendar)
            ticket.updated_at = self.now()
            await session.flush()
            event.data = {**event.data, "outbox_id": item.id}
            return item.id

    async def resolve(self, ticket_id: int, resolution: str, actor: str) -> None:
        if resolution not in RESOLUTIONS:
            raise UserInputError(
                f"unknown resolution {shown(resolution)}; use one of: {', '.join(RESOLUTIONS)}"
            )
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            if ticket.status in (sla.RESOLVED, sla.CLOSED):
                raise UserInputError(f"ticket #{ticket_id} is already {ticket.status}")
            sla.to_resolved(ticket, self.now(), self.calendar, resolution)
            session.add(_event(actor, "resolved", ticket, resolution=resolution))

    async def reopen(self, ticket_id: int, actor: str) -> None:
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            if ticket.status in sla.ACTIVE:
                raise UserInputError(f"ticket #{ticket_id} is already {ticket.status}")
            previous = ticket.status
            sla.to_company(ticket, self.now(), self.calendar)
            session.add(_event(actor, "reopened", ticket, previous=previous))

    async def claim(self, ticket_id: int, actor: str) -> str | None:
        """Take the ticket; returns who had it before (None if nobody)."""
        return await self.assign(ticket_id, actor, actor, event="claimed")

    async def assign(
        self, ticket_id: int, assignee: str, actor: str, *, event: str = "assigned"
    ) -> str | None:
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            if ticket.status == sla.CLOSED:
                raise UserInputError(f"ticket #{ticket_id} is closed; reopen it first")
            previous = ticket.assignee
            ticket.assignee = assignee
            ticket.updated_at = self.now()
            session.add(_event(actor, event, ticket, assignee=assignee, previous=previous))
            return previous

    async def note(self, ticket_id: int, text: str, actor: str) -> int:
        """An internal note: stored in the ticket's history, never sent to the customer."""
        text = text.strip()
        if not text:
            raise UserInputError("the note is empty")
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            event = _event(actor, "note", ticket, text=text[:4000])
            session.add(event)
            ticket.updated_at = self.now()
            await session.flush()
            return event.id

    async def snooze(self, ticket_id: int, until: datetime, actor: str) -> None:
        """Hide from the queue and from reminders until ``until`` (the SLA keeps counting)."""
        if until <= self.now():
            raise UserInputError("snooze until a time in the future")
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            if ticket.status not in sla.ACTIVE:
                raise UserInputError(f"ticket #{ticket_id} is {ticket.status}; nothing to snooze")
            ticket.snoozed_until = until
            ticket.updated_at = self.now()
            session.add(_event(actor, "snoozed", ticket, until=until.isoformat()))

    async def label(self, ticket_id: int, label: str, actor: str) -> str:
        """A person's correction of the complaint label (marketing's reports read it)."""
        if label not in LABELS:
            raise UserInputError(f"unknown label {shown(label)}; use one of: {', '.join(LABELS)}")
        async with self.db.transaction() as session:
            ticket = await _ticket(session, ticket_id)
            origin = await session.get(Interaction, ticket.origin_interaction_id)
            if origin is None:
                raise NotFound(f"ticket #{ticket_id} has lost its first message")
            before = origin.agent_label or origin.label or ticket.label
            origin.agent_label = label
            ticket.updated_at = self.now()
            session.add(_event(actor, "relabelled", ticket, label=label, previous=before))
            return before

    async def refused(self, actor: str, command: str, ticket_id: int | None, reason: str) -> None:
        """Log a refused command (ticket number in data: it may not exist)."""
        async with self.db.transaction() as session:
            session.add(
                Event(
                    actor=actor,
                    type="command_refused",
                    data={"command": command, "ticket": ticket_id, "reason": reason},
                )
            )


def outbox_row(
    origin: Interaction, ticket: Ticket, purpose: str, dedupe: str, text: str, actor: str
) -> OutboxMessage:
    """A reply through the ticket's own channel and thread, answering its first message."""
    meta = {k: v for k, v in (origin.meta or {}).items() if not k.startswith("author_is")}
    return OutboxMessage(
        inbound_id=origin.id,
        purpose=purpose,
        dedupe_key=dedupe,
        ticket_id=ticket.id,
        channel=origin.channel,
        kind=origin.kind,
        thread=origin.thread,
        in_reply_to=origin.external_id,
        recipient_id=(origin.meta or {}).get("author_id"),
        text=text,
        meta=meta,
        actor=actor,
    )
