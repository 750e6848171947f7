"""What the staff channel shows: one card per ticket (edited in place) and notices.

A card is "dirty" when the ticket changed after the version the card shows
(``staff_synced_at < updated_at``). Notices (SLA warning, breach, reminder, low CSAT) are
rows written in the same transaction as the state change they announce and posted after,
so a crash can delay them but never lose them, and their UNIQUE key makes each one happen
once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import sla
from storage.db import Database
from storage.models import Customer, Interaction, StaffNotice, Ticket, now_utc

log = logging.getLogger(__name__)

NOTICE_MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class EarlierTicket:
    id: int
    status: str
    label: str


@dataclass(frozen=True, slots=True)
class TicketCard:
    """Everything the staff card shows (the ticket's ``updated_at`` is its version)."""

    id: int
    version: datetime
    message_id: str | None
    status: str
    priority: str
    label: str
    topic: str | None
    channel: str
    kind: str
    customer: str
    text: str
    url: str | None
    polarity: float | None
    opened_at: datetime
    due_at: datetime | None
    first_response_at: datetime | None
    sla_paused: bool
    sla_warned: bool
    sla_breached: bool
    assignee: str | None
    snoozed_until: datetime | None
    resolution: str | None
    csat_score: int | None
    earlier: tuple[EarlierTicket, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    ticket_id: int
    kind: str
    text: str
    mention: str | None
    attempts: int


def user_mention(actor: str | None) -> str | None:
    """A notice's ping for a Discord member ("discord:<id>" -> "user:<id>"); CLI users and
    plain names cannot be pinged (None)."""
    if actor and actor.startswith("discord:") and actor[8:].isdigit():
        return f"user:{actor[8:]}"
    return None


async def add_notice(
    session: AsyncSession,
    ticket_id: int,
    kind: str,
    text: str,
    *,
    mention: str | None = None,
    dedupe_key: str = "",
) -> bool:
    """Queue a notice inside the caller's transaction. False when it already exists."""
    try:
        async with session.begin_nested():
            session.add(
                StaffNotice(
                    ticket_id=ticket_id,
                    kind=kind,
                    dedupe_key=dedupe_key,
                    text=text,
                    mention=mention,
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


async def _earlier(session: AsyncSession, ticket: Ticket) -> tuple[EarlierTicket, ...]:
    if ticket.customer_id is None:
        return ()
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == ticket.customer_id, Ticket.id < ticket.id)
        .order_by(Ticket.id.desc())
        .limit(5)
    )
    return tuple(EarlierTicket(t.id, t.status, t.label) for t in rows)


async def load_card(session: AsyncSession, ticket: Ticket) -> TicketCard:
    origin = await session.get(Interaction, ticket.origin_interaction_id)
    customer = await session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    erased = customer is not None and customer.erased_at is not None
    handle = "(erased)" if erased else (customer.handle if customer else None) or "?"
    label = (origin.agent_label if origin and origin.agent_label else None) or ticket.label
    return TicketCard(
        id=ticket.id,
        version=ticket.updated_at,
        message_id=ticket.staff_message_id,
        status=ticket.status,
        priority=ticket.priority,
        label=label,
        topic=ticket.topic,
        channel=ticket.channel,
        kind=origin.kind if origin else "?",
        customer=handle,
        text="" if erased or origin is None else origin.text,
        url=origin.url if origin else None,
        polarity=origin.polarity if origin else None,
        opened_at=ticket.opened_at,
        due_at=ticket.first_response_due_at,
        first_response_at=ticket.first_response_at,
        sla_paused=ticket.sla_paused_at is not None,
        sla_warned=ticket.sla_warned_at is not None,
        sla_breached=ticket.sla_breached_at is not None,
        assignee=ticket.assignee,
        snoozed_until=ticket.snoozed_until,
        resolution=ticket.resolution,
        csat_score=ticket.csat_score,
        earlier=await _earlier(session, ticket),
    )


class StaffRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def dirty_cards(self, limit: int = 20) -> list[TicketCard]:
        """Cards to post (active tickets without one) or to edit (ticket changed since)."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Ticket)
                .where(
                    or_(
                        (Ticket.staff_message_id.is_(None)) & Ticket.status.in_(sla.ACTIVE),
                        (Ticket.staff_message_id.is_not(None))
                        & (
                            Ticket.staff_synced_at.is_(None)
                            | (Ticket.staff_synced_at < Ticket.updated_at)
                        ),
                    )
                )
                .order_by(Ticket.id)
                .limit(limit)
            )
            return [await load_card(session, ticket) for ticket in rows]

    async def card(self, ticket_id: int) -> TicketCard | None:
        async with self.db.session() as session:
            ticket = await session.get(Ticket, ticket_id)
            return None if ticket is None else await load_card(session, ticket)

    async def card_synced(self, ticket_id: int, message_id: str, version: datetime) -> None:
        """Remember the staff message and the version it shows (never touches updated_at)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(staff_message_id=message_id, staff_synced_at=version)
            )

    async def pending_notices(self, limit: int = 20) -> list[Notice]:
        now = now_utc()
        async with self.db.session() as session:
            rows = await session.scalars(
                select(StaffNotice)
                .where(
                    StaffNotice.status == "pending",
                    or_(StaffNotice.sent_at.is_(None), StaffNotice.sent_at <= now),
                )
                .order_by(StaffNotice.id)
                .limit(limit)
            )
            return [Notice(r.id, r.ticket_id, r.kind, r.text, r.mention, r.attempts) for r in rows]

    async def notice_sent(self, notice_id: int, message_id: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(StaffNotice, notice_id)
            if row is not None:
                row.status, row.message_id, row.sent_at = "sent", message_id, now_utc()
                row.attempts += 1

    async def notice_failed(self, notice_id: int, error: str) -> None:
        """Count a failed post; give up after a few (the Event log still has the fact)."""
        async with self.db.transaction() as session:
            row = await session.get(StaffNotice, notice_id)
            if row is None:
                return
            row.attempts += 1
            row.last_error = error[:1000]
            if row.attempts >= NOTICE_MAX_ATTEMPTS:
                row.status = "failed"
                log.error("staff notice %s (%s) failed for good: %s", row.id, row.kind, error)
            else:
                # sent_at doubles as "not before" while pending: a capped, growing pause.
                row.sent_at = now_utc() + timedelta(seconds=min(2**row.attempts, 300))

    async def notices(self, ticket_id: int) -> list[StaffNotice]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(StaffNotice)
                .where(StaffNotice.ticket_id == ticket_id)
                .order_by(StaffNotice.id)
            )
            return list(rows)
