"""Erasure and retention: customers' words and identities go; anonymous metrics stay.

`forget` blanks a customer's text and identity everywhere it is stored (interactions in and
out, pending replies, event details) and keeps the rows with their scores, labels and times,
so that reports still count them. `purge_text` does the same for text older than N days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound, UserInputError
from storage.db import Database
from storage.models import Customer, Event, Interaction, OutboxMessage, Ticket, now_utc

log = logging.getLogger(__name__)

ERASED = ""


@dataclass(frozen=True, slots=True)
class Erasure:
    customers: int
    interactions: int
    replies: int


async def find_customers(session: AsyncSession, ref: str) -> list[Customer]:
    """`channel:handle`, `channel:platform-id`, `handle` (every channel) or `#<id>`."""
    ref = ref.strip()
    if not ref:
        raise UserInputError("name a customer: channel:handle, handle or #id")
    if ref.startswith("#") and ref[1:].isdigit():
        found = await session.get(Customer, int(ref[1:]))
        return [found] if found else []
    channel, _, who = ref.rpartition(":")
    handle = who.lstrip("@")
    query = select(Customer).where(
        Customer.erased_at.is_(None),
        or_(
            Customer.handle == handle, Customer.handle == f"@{handle}", Customer.external_id == who
        ),
    )
    if channel:
        query = query.where(Customer.channel == channel)
    return list(await session.scalars(query))


async def forget(db: Database, ref: str, actor: str) -> Erasure:
    async with db.transaction() as session:
        customers = await find_customers(session, ref)
        if not customers:
            raise NotFound(f"no customer matches {ref!r}")
        ids = [c.id for c in customers]
        now = now_utc()
        for customer in customers:
            customer.handle = customer.display_name = None
            customer.external_id = f"erased:{customer.id}"
            customer.erased_at = now
        interactions = await session.execute(
            update(Interaction)
            .where(Interaction.customer_id.in_(ids))
            .values(text=ERASED, meta={"erased": True}, url=None)
        )
        inbound_ids = select(Interaction.id).where(Interaction.customer_id.in_(ids))
        replies = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.inbound_id.in_(inbound_ids))
            .values(text=ERASED, recipient_id=None, meta={})
        )
        # Replies not yet sent would carry nothing now: never send them.
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.inbound_id.in_(inbound_ids),
                OutboxMessage.status.in_(("pending", "sending")),
            )
            .values(status="skipped", last_error="customer erased")
        )
        ticket_ids = select(Ticket.id).where(Ticket.customer_id.in_(ids))
        await session.execute(
            update(Event).where(Event.ticket_id.in_(ticket_ids)).values(data={"erased": True})
        )
        session.add(Event(actor=actor, type="customer_forgotten", data={"customers": len(ids)}))
    counts = Erasure(len(ids), _rowcount(interactions), _rowcount(replies))
    log.info(
        "erased %d customer identity(ies), %d interactions, %d replies",
        counts.customers,
        counts.interactions,
        counts.replies,
    )
    return counts


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_text(db: Database, older_than: datetime) -> int:
    """Blank the text of interactions (and their replies) created before ``older_than``."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Interaction)
            .where(Interaction.created_at < older_than, Interaction.text != ERASED)
            .values(text=ERASED, url=None)
        )
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.created_at < older_than,
                OutboxMessage.status.in_(("sent", "failed", "skipped")),
            )
            .values(text=ERASED)
        )
        count = _rowcount(result)
        if count:
            session.add(
                Event(
                    actor="system",
                    type="retention_purge",
                    data={"interactions": count, "before": older_than.isoformat()},
                )
            )
    return count
