"""The interaction log with filters and pages, a ticket's history: the dashboard's reads.

`socialbot log` reads the same log through the same filters, as one long first page.

Pages are fetched with one row more than shown, which says whether a next page exists without
a COUNT (a text search over a large log would scan it all just to print a total).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound, UserInputError
from storage.db import Database
from storage.models import Customer, Event, Interaction, Ticket
from storage.report_sql import SENTIMENTS, effective_label

TICKET_FILTERS = ("open", "waiting_customer", "resolved", "closed", "any", "none")
MAX_PAGE_SIZE = 10_000  # `socialbot log --limit`; the dashboard's settings cap its pages lower
MAX_THREAD = 1000  # messages shown on a ticket's page


@dataclass(frozen=True, slots=True)
class LogQuery:
    channel: str | None = None
    sentiment: str | None = None  # negative | neutral | positive
    label: str | None = None  # as shown: an agent's correction wins over the model's label
    start: datetime | None = None
    end: datetime | None = None
    search: str | None = None  # case-insensitive substring of the text
    ticket: str | None = None  # a ticket status, "any" (has a ticket) or "none"
    page: int = 1
    page_size: int = 50

    def validate(self) -> LogQuery:
        if self.sentiment and self.sentiment not in SENTIMENTS:
            raise UserInputError(f"sentiment {self.sentiment!r}: use {', '.join(SENTIMENTS)}")
        if self.ticket and self.ticket not in TICKET_FILTERS:
            raise UserInputError(f"ticket {self.ticket!r}: use {', '.join(TICKET_FILTERS)}")
        if self.page < 1 or not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise UserInputError(f"page must be >= 1 and page size 1..{MAX_PAGE_SIZE}")
        return self


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    created_at: datetime
    direction: str
    channel: str
    kind: str
    author: str
    text: str
    polarity: float | None
    label: str | None
    topic: str | None
    ticket_id: int | None
    ticket_status: str | None


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: list[LogEntry]
    page: int
    page_size: int
    has_next: bool


def _like_pattern(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(stmt: Select[Any], q: LogQuery) -> Select[Any]:
    i = Interaction
    if q.channel:
        stmt = stmt.where(i.channel == q.channel)
    if q.start:
        stmt = stmt.where(i.created_at >= q.start)
    if q.end:
        stmt = stmt.where(i.created_at < q.end)
    if q.sentiment == "negative":
        stmt = stmt.where(i.polarity < 0)
    elif q.sentiment == "positive":
        stmt = stmt.where(i.polarity > 0)
    elif q.sentiment == "neutral":
        stmt = stmt.where(i.polarity == 0)
    if q.label:
        stmt = stmt.where(effective_label(i.label, i.agent_label) == q.label)
    if q.search:
        stmt = stmt.where(i.text.ilike(_like_pattern(q.search), escape="\\"))
    if q.ticket == "none":
        stmt = stmt.where(i.ticket_id.is_(None))
    elif q.ticket == "any":
        stmt = stmt.where(i.ticket_id.is_not(None))
    elif q.ticket:
        stmt = stmt.where(Ticket.status == q.ticket)
    return stmt


async def query_log_page(db: Database, q: LogQuery) -> LogPage:
    q = q.validate()
    i = Interaction
    stmt = (
        select(
            i.id,
            i.created_at,
            i.direction,
            i.channel,
            i.kind,
            Customer.handle,
            i.text,
            i.polarity,
            effective_label(i.label, i.agent_label),
            i.topic,
            i.ticket_id,
            Ticket.status,
        )
        .join(Customer, Customer.id == i.customer_id, isouter=True)
        .join(Ticket, Ticket.id == i.ticket_id, isouter=True)
        .order_by(i.created_at.desc(), i.id.desc())
        .offset((q.page - 1) * q.page_size)
        .limit(q.page_size + 1)
    )
    async with db.session() as session:
        rows = (await session.execute(_filtered(stmt, q))).all()
    entries = [
        LogEntry(
            id=r[0],
            created_at=r[1],
            direction=r[2],
            channel=r[3],
            kind=r[4],
            author="(us)" if r[2] == "out" else (r[5] or "?"),
            text=r[6],
            polarity=r[7],
            label=r[8],
            topic=r[9],
            ticket_id=r[10],
            ticket_status=r[11],
        )
        for r in rows[: q.page_size]
    ]
    return LogPage(entries, q.page, q.page_size, has_next=len(rows) > q.page_size)


async def channels(db: Database) -> list[str]:
    """Every channel in the log, for the filter's choices (index-only, few distinct)."""
    async with db.session() as session:
        found = await session.scalars(select(Interaction.channel).distinct())
        return sorted(found)


@dataclass(frozen=True, slots=True)
class TicketHistory:
    ticket: Ticket
    customer: str
    messages: list[LogEntry]
    events: list[Event]


async def ticket_history(db: Database, ticket_id: int) -> TicketHistory:
    """A ticket with its clock, every message in its thread and its append-only event log."""
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket #{ticket_id}")
        customer = await _customer_name(session, ticket.customer_id)
        rows = (
            await session.execute(
                select(Interaction, Customer.handle)
                .join(Customer, Customer.id == Interaction.customer_id, isouter=True)
                .where(Interaction.ticket_id == ticket_id)
                .order_by(Interaction.created_at, Interaction.id)
                .limit(MAX_THREAD)
            )
        ).all()
        events = list(
            await session.scalars(
                select(Event).where(Event.ticket_id == ticket_id).order_by(Event.at, Event.id)
            )
        )
    messages = [_entry(m, handle, ticket) for m, handle in rows]
    return TicketHistory(ticket, customer, messages, events)


async def _customer_name(session: AsyncSession, customer_id: int | None) -> str:
    if customer_id is None:
        return "?"
    customer = await session.get(Customer, customer_id)
    if customer is None:
        return "?"
    if customer.erased_at is not None:
        return "(erased)"
    return customer.handle or customer.display_name or "?"


def _entry(m: Interaction, handle: str | None, ticket: Ticket) -> LogEntry:
    return LogEntry(
        id=m.id,
        created_at=m.created_at,
        direction=m.direction,
        channel=m.channel,
        kind=m.kind,
        author="(us)" if m.direction == "out" else (handle or "?"),
        text=m.text,
        polarity=m.polarity,
        label=m.agent_label or m.label,
        topic=m.topic,
        ticket_id=m.ticket_id,
        ticket_status=ticket.status,
    )


def event_details(data: dict[str, Any] | None) -> str:
    """An event's data as "key: value; ..." (a send_failed event's error is its reason), for
    `tickets show` and the dashboard's ticket history alike."""
    shown = (f"{k}: {str(v)[:500]}" for k, v in (data or {}).items() if v not in (None, ""))
    return "; ".join(shown)
