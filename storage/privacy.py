"""Erasure and retention: customers' words and identities go; anonymous metrics stay.

`forget` blanks a customer's text and identity everywhere it is stored (interactions in and
out, replies and the platforms' refusals of them, staff notices, the free text of events) and
keeps the rows with their scores, labels, kinds and times, so that reports and the audit
trail still count them. `purge_text` does the same for text older than N days (who wrote it
stays until `forget`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from bot.errors import NotFound, UserInputError
from storage.db import Database
from storage.models import (
    Customer,
    Event,
    Interaction,
    OutboxMessage,
    StaffNotice,
    Ticket,
    now_utc,
)

log = logging.getLogger(__name__)

ERASED = ""
ERASED_MARK = "(erased)"  # where a blank would read as "nothing was there"
SKIPPED_REASON = "customer erased"  # our own words on a reply never sent: kept
FINISHED = ("sent", "failed", "skipped")  # replies that will not be sent (again)
# Event types whose data holds free text (an agent's note; a platform's refusal, which can
# quote the customer's address): these keys go, the others (ids, labels, scores) stay.
EVENT_FREE_TEXT: dict[str, tuple[str, ...]] = {"note": ("text",), "send_failed": ("error",)}
# The customer's words inside a message's meta: an email's subject, its attachments' names.
META_FREE_TEXT = ("subject", "attachments")

JsonColumn = InstrumentedAttribute[dict[str, Any]]


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
        ticket_ids = select(Ticket.id).where(Ticket.customer_id.in_(ids))
        theirs = or_(
            OutboxMessage.inbound_id.in_(inbound_ids), OutboxMessage.ticket_id.in_(ticket_ids)
        )
        replies = await _forget_replies(session, theirs)
        # A card already posted in the staff channel shows their words: a newer version makes
        # the staff board edit it to the erased text on its next pass.
        await session.execute(
            update(Ticket)
            .where(Ticket.customer_id.in_(ids))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        notices = await session.execute(
            update(StaffNotice)
            .where(StaffNotice.ticket_id.in_(ticket_ids))
            .values(text=ERASED_MARK)
            .execution_options(synchronize_session=False)
        )
        # A send_failed without a ticket (e.g. a thanks) is theirs through its outbox row.
        events = or_(
            Event.ticket_id.in_(ticket_ids),
            Event.interaction_id.in_(inbound_ids),
            Event.ticket_id.is_(None)
            & Event.data["outbox_id"].as_integer().in_(select(OutboxMessage.id).where(theirs)),
        )
        erased_events = await _erase_event_text(session, events, db.is_sqlite)
        session.add(Event(actor=actor, type="customer_forgotten", data={"customers": len(ids)}))
    counts = Erasure(len(ids), _rowcount(interactions), replies)
    log.info(
        "erased %d customer identity(ies), %d interactions, %d replies, %d staff notices, "
        "%d event details",
        counts.customers,
        counts.interactions,
        counts.replies,
        _rowcount(notices),
        erased_events,
    )
    return counts


async def _forget_replies(session: AsyncSession, theirs: ColumnElement[bool]) -> int:
    replies = await session.execute(
        update(OutboxMessage)
        .where(theirs)
        .values(text=ERASED, recipient_id=None, meta={}, last_error=_erased_error())
        .execution_options(synchronize_session=False)
    )
    # Replies not yet sent would carry nothing now: never send them.
    await session.execute(
        update(OutboxMessage)
        .where(theirs, OutboxMessage.status.in_(("pending", "sending")))
        .values(status="skipped", last_error=SKIPPED_REASON)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(replies)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_text(db: Database, older_than: datetime) -> int:
    """Blank the text of interactions (their replies, notices, events) before ``older_than``.

    Returns the number of interactions blanked. Replies still to be sent are left alone.
    """
    sqlite = db.is_sqlite
    async with db.transaction() as session:
        result = await session.execute(
            update(Interaction)
            .where(Interaction.created_at < older_than, Interaction.text != ERASED)
            .values(text=ERASED, url=None)
        )
        await session.execute(
            update(Interaction)
            .where(Interaction.created_at < older_than, _has_any(Interaction.meta, META_FREE_TEXT))
            .values(meta=_without(Interaction.meta, META_FREE_TEXT, sqlite=sqlite))
            .execution_options(synchronize_session=False)
        )
        replies = await _purge_replies(session, older_than, sqlite)
        # Pending ones too: without a staff channel, notices are never posted.
        notices = await session.execute(
            update(StaffNotice)
            .where(StaffNotice.created_at < older_than, StaffNotice.text != ERASED_MARK)
            .values(text=ERASED_MARK)
            .execution_options(synchronize_session=False)
        )
        events = await _erase_event_text(session, Event.at < older_than, sqlite)
        count = _rowcount(result)
        cleared = {
            "interactions": count,
            "replies": replies,
            "notices": _rowcount(notices),
            "events": events,
        }
        if any(cleared.values()):
            session.add(
                Event(
                    actor="system",
                    type="retention_purge",
                    data={**cleared, "before": older_than.isoformat()},
                )
            )
    return count


async def _purge_replies(session: AsyncSession, older_than: datetime, sqlite: bool) -> int:
    """Replies that will not be sent (again): their text, the platform's error, the subject."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.created_at < older_than,
            OutboxMessage.status.in_(FINISHED),
            or_(
                OutboxMessage.text != ERASED,
                _erasable_error(),
                _has_any(OutboxMessage.meta, META_FREE_TEXT),
            ),
        )
        .values(
            text=ERASED,
            last_error=_erased_error(),
            meta=_without(OutboxMessage.meta, META_FREE_TEXT, sqlite=sqlite),
        )
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def _erase_event_text(session: AsyncSession, where: ColumnElement[bool], sqlite: bool) -> int:
    """Drop the free-text keys of the events matched (type, actor, time and the rest stay)."""
    erased = 0
    for kind, keys in EVENT_FREE_TEXT.items():
        result = await session.execute(
            update(Event)
            .where(where, Event.type == kind, _has_any(Event.data, keys))
            .values(data=_without(Event.data, keys, sqlite=sqlite, mark=True))
            .execution_options(synchronize_session=False)
        )
        erased += _rowcount(result)
    return erased


def _erasable_error() -> ColumnElement[bool]:
    """A reply's error as the platform gave it (an SMTP refusal can quote the address)."""
    return OutboxMessage.last_error.not_in((ERASED_MARK, SKIPPED_REASON))  # NULL: no


def _erased_error() -> ColumnElement[Any]:
    return case((_erasable_error(), ERASED_MARK), else_=OutboxMessage.last_error)


def _has_any(column: JsonColumn, keys: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(*(column[key].as_string().is_not(None) for key in keys))


def _without(
    column: JsonColumn, keys: tuple[str, ...], *, sqlite: bool, mark: bool = False
) -> ColumnElement[Any]:
    """The JSON object in ``column`` without ``keys`` (and, with ``mark``, `"erased": true`).

    In SQL, so that one UPDATE covers any number of rows: SQLite's json functions; on
    PostgreSQL the column is ``json``, edited as ``jsonb``.
    """
    if sqlite:
        stripped: ColumnElement[Any] = func.json_remove(column, *(f'$."{k}"' for k in keys))
        return func.json_set(stripped, "$.erased", func.json("true")) if mark else stripped
    edited: ColumnElement[Any] = cast(column, JSONB)
    for key in keys:
        edited = edited.op("-", return_type=JSONB)(cast(literal(key), Text))
    if mark:
        edited = edited.op("||", return_type=JSONB)(cast(literal('{"erased": true}'), JSONB))
    return cast(edited, JSON)
