"""Tickets as agents see them: list, show, reply, resolve — each action logged as an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.errors import NotFound, UserInputError
from storage.db import Database
from storage.models import Customer, Event, Interaction, OutboxMessage, Ticket, now_utc

RESOLUTIONS = ("refund", "replacement", "info", "other")


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
        label=ticket.label,
        topic=ticket.topic,
        channel=ticket.channel,
        customer=who or "?",
        assignee=ticket.assignee,
        opened_at=ticket.opened_at,
        first_response_due_at=ticket.first_response_due_at,
        first_response_at=ticket.first_response_at,
        excerpt=text if len(text) <= 80 else text[:79] + "…",
    )


class TicketRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self, statuses: tuple[str, ...] | None = None, limit: int = 100
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
            rows = (await session.execute(query)).all()
            return [_summary(t, c, i) for t, c, i in rows]

    async def show(self, ticket_id: int) -> TicketDetail:
        async with self.db.session() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket #{ticket_id}")
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
            events = list(
                await session.scalars(
                    select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)
                )
            )
            return TicketDetail(_summary(ticket, customer, origin), messages, events)

    async def reply(self, ticket_id: int, text: str, actor: str) -> int:
        """Queue an agent's reply through the ticket's own channel and thread."""
        text = text.strip()
        if not text:
            raise UserInputError("the reply text is empty")
        async with self.db.transaction() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket #{ticket_id}")
            if ticket.status == "closed":
                raise UserInputError(f"ticket #{ticket_id} is closed; reopen it first")
            origin = await session.get(Interaction, ticket.origin_interaction_id)
            if origin is None:
                raise NotFound(f"ticket #{ticket_id} has lost its first message")
            event = Event(
                actor=actor,
                type="agent_reply_queued",
                ticket_id=ticket_id,
                data={"length": len(text)},
            )
            session.add(event)
            await session.flush()
            meta = {k: v for k, v in (origin.meta or {}).items() if not k.startswith("author_is")}
            item = OutboxMessage(
                inbound_id=origin.id,
                purpose="agent_reply",
                dedupe_key=f"event-{event.id}",
                ticket_id=ticket_id,
                channel=origin.channel,
                kind=origin.kind,
                thread=origin.thread,
                in_reply_to=origin.external_id,
                recipient_id=(origin.meta or {}).get("author_id"),
                text=text,
                meta=meta,
                actor=actor,
            )
            session.add(item)
            if ticket.status == "open":
                ticket.status = "waiting_customer"
            ticket.updated_at = now_utc()
            await session.flush()
            event.data = {**event.data, "outbox_id": item.id}
            return item.id

    async def resolve(self, ticket_id: int, resolution: str, actor: str) -> None:
        if resolution not in RESOLUTIONS:
            raise UserInputError(
                f"unknown resolution {resolution!r}; use one of: {', '.join(RESOLUTIONS)}"
            )
        async with self.db.transaction() as session:
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket #{ticket_id}")
            if ticket.status in ("resolved", "closed"):
                raise UserInputError(f"ticket #{ticket_id} is already {ticket.status}")
            now = now_utc()
            ticket.status, ticket.resolution, ticket.resolved_at = "resolved", resolution, now
            ticket.updated_at = now
            session.add(
                Event(
                    actor=actor,
                    type="resolved",
                    ticket_id=ticket_id,
                    data={"resolution": resolution},
                )
            )
