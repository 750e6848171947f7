"""Writing routing decisions: scores, tickets, events and outbox rows, a batch per transaction.

Safe with several workers (processes or hosts) on one database:

* a message is *claimed* first — on PostgreSQL ``SELECT ... FOR UPDATE`` in id order (a
  second worker waits, then sees it is no longer ``pending``); on SQLite the claim is an
  ``UPDATE ... WHERE status = 'pending'``, whose write lock serialises writers — so a
  message replayed or delivered twice gets one ticket and one acknowledgement;
* on PostgreSQL, transaction-scoped advisory locks on the batch's customers and threads
  serialise two workers deciding about the same conversation (one ticket per thread and
  customer, one acknowledgement per thread cool-down), taken in ascending key order.

The rules are those of one message at a time: a batch is planned in order, each message
seeing the tickets and acknowledgements of the messages before it. What changed is the
I/O: lookups are one query per batch, writes are set-based.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from responders.routing import Decision
from responders.scoring import Scores
from storage.bulk import advisory_locks, chunks, lock_key, table_of
from storage.csat import take_csat_answer
from storage.db import Database
from storage.decisions_plan import (
    AUTOMATIC_REPLIES,
    BatchPlan,
    NewTicket,
    ReplyKey,
    RowFacts,
    TicketIndex,
    reply_key,
)
from storage.models import Event, Interaction, OutboxMessage, Ticket, now_utc

log = logging.getLogger(__name__)

OPEN_STATUSES = ("open", "waiting_customer")
_FACTS = (
    "id", "channel", "kind", "external_id", "thread", "customer_id", "meta",
    "created_at", "received_at", "text",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the worker did, for logs, tests and the demo summary."""

    interaction_id: int
    label: str
    ticket_id: int | None
    ticket_opened: bool
    outbox_id: int | None
    joined_ticket: bool = False
    reopened: bool = False


@dataclass(frozen=True, slots=True)
class DecisionInput:
    interaction_id: int
    scores: Scores
    decision: Decision
    join_window: timedelta  # a customer's next message within this joins the open ticket
    ack_cooldown: timedelta  # never two acknowledgements in one thread within this
    # Renders the reply text once the ticket number is known; None: send nothing.
    render: Callable[[str, int | None], str | None]
    due_at: Callable[[datetime], datetime | None]  # SLA due time from the receipt time


class DecisionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, data: DecisionInput) -> Outcome | None:
        """Record scores and act on the decision. None when already processed (a replay)."""
        try:
            return (await self.apply_many([data]))[0]
        except IntegrityError:
            log.info("decision already recorded interaction=%s", data.interaction_id)
            return None

    async def apply_many(self, inputs: Sequence[DecisionInput]) -> list[Outcome | None]:
        """One transaction for the batch; None for a message another worker already took."""
        if not inputs:
            return []
        async with self.db.transaction() as session:
            facts = await self._claim(session, [data.interaction_id for data in inputs])
            claimed = [data for data in inputs if data.interaction_id in facts]
            if not claimed:
                return [None] * len(inputs)
            rows = [facts[data.interaction_id] for data in claimed]
            keys = [lock_key("customer", r.customer_id) for r in rows]
            keys += [lock_key("thread", r.channel, r.thread) for r in rows]
            await advisory_locks(session, self.db, keys)
            plan = await self._plan(session, claimed, facts)
            outcomes = await self._write(session, plan)
        return [outcomes.get(data.interaction_id) for data in inputs]

    async def _claim(self, session: AsyncSession, ids: list[int]) -> dict[int, RowFacts]:
        """Take the still-pending messages among ``ids``; the rest belong to someone else."""
        table = table_of(Interaction)
        columns = [table.c[name] for name in _FACTS]
        pending = (table.c.status == "pending") & (table.c.direction == "in")
        found: dict[int, RowFacts] = {}
        for part in chunks(sorted(set(ids))):
            if self.db.is_sqlite:  # the UPDATE takes the write lock before anything is read
                query: Any = (
                    update(table)
                    .where(table.c.id.in_(part), pending)
                    .values(status="processed")
                    .returning(*columns)
                )
            else:  # row locks in id order: two workers cannot deadlock on a shared batch
                query = (
                    select(*columns)
                    .where(table.c.id.in_(part), pending)
                    .order_by(table.c.id)
                    .with_for_update()
                )
            for row in await session.execute(query):
                found[row.id] = RowFacts.from_row(row._mapping)
        return found

    async def _plan(
        self, session: AsyncSession, inputs: list[DecisionInput], facts: dict[int, RowFacts]
    ) -> BatchPlan:
        rows = list(facts.values())
        window = max(data.join_window for data in inputs)
        cooldown = max(data.ack_cooldown for data in inputs)
        tickets = TicketIndex(await _candidate_tickets(session, rows, window))
        plan = BatchPlan(tickets, await _recent_acks(session, rows, cooldown), OPEN_STATUSES)
        surveyed = await _surveyed_customers(session, rows)
        for data in inputs:
            row = facts[data.interaction_id]
            if row.customer_id in surveyed and await self._csat_answer(session, row, data, plan):
                continue
            plan.decide(row, data)
        await session.flush()  # state changes of existing tickets (ORM) written
        await _insert_tickets(session, plan.tickets.created)
        return plan

    async def _csat_answer(
        self, session: AsyncSession, row: RowFacts, data: DecisionInput, plan: BatchPlan
    ) -> bool:
        """The customer has a survey open: record an answer instead of a new decision."""
        orm_row = await session.get(Interaction, row.id)
        if orm_row is None or not await take_csat_answer(session, orm_row):
            return False
        plan.record_csat(row, data, orm_row.ticket_id)
        return True

    async def _write(self, session: AsyncSession, plan: BatchPlan) -> dict[int, Outcome]:
        interactions = table_of(Interaction)
        updates = plan.interaction_updates(now_utc())
        if updates:
            await session.execute(
                update(interactions)
                .where(interactions.c.id == bindparam("b_id"))
                .values({name: bindparam(f"b_{name}") for name in _UPDATED}),
                updates,
            )
        outbox_ids: dict[int, int] = {}
        replies = plan.outbox_rows()
        if replies:
            outbox = table_of(OutboxMessage)
            result = await session.execute(
                outbox.insert().returning(outbox.c.id, outbox.c.inbound_id), replies
            )
            outbox_ids = {row.inbound_id: row.id for row in result}
        events = plan.event_rows()
        if events:
            await session.execute(table_of(Event).insert(), events)
        return plan.outcomes(outbox_ids, Outcome)


_UPDATED = (
    "polarity", "subjectivity", "complaint_score", "language", "topic", "scorer_version",
    "label", "decision", "status", "processed_at", "ticket_id",
)  # fmt: skip


async def _candidate_tickets(
    session: AsyncSession, rows: list[RowFacts], window: timedelta
) -> list[Ticket]:
    """Every ticket a message of the batch could continue (ORM rows: the state machine
    in storage.sla works on them): same thread and customer, or the customer's open ones."""
    customers = sorted({r.customer_id for r in rows if r.customer_id is not None})
    if not customers:
        return []
    found: dict[int, Ticket] = {}
    by_channel: dict[str, set[str]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, set()).add(row.thread)
    for channel, threads in by_channel.items():
        for part in chunks(sorted(threads)):
            query = select(Ticket).where(
                Ticket.channel == channel,
                Ticket.thread.in_(part),
                Ticket.customer_id.in_(customers),
            )
            found.update((t.id, t) for t in await session.scalars(query))
    since = min(r.created_at for r in rows) - window
    for part in chunks(customers):
        query = select(Ticket).where(
            Ticket.customer_id.in_(part),
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.updated_at >= since,
        )
        found.update((t.id, t) for t in await session.scalars(query))
    return list(found.values())


async def _insert_tickets(session: AsyncSession, created: list[NewTicket]) -> None:
    """The batch's new tickets in one multi-row INSERT.

    Ids are matched back by the opening message (one new ticket per message), not by
    order: asking SQLAlchemy for parameter order makes it insert row by row on SQLite.
    """
    if not created:
        return
    tickets = table_of(Ticket)
    result = await session.execute(
        tickets.insert().returning(tickets.c.id, tickets.c.origin_interaction_id),
        [ticket.values for ticket in created],
    )
    ids = {origin: ticket_id for ticket_id, origin in result}
    for ticket in created:
        ticket.id = ids[ticket.values["origin_interaction_id"]]


async def _recent_acks(
    session: AsyncSession, rows: list[RowFacts], cooldown: timedelta
) -> dict[ReplyKey, datetime]:
    """When each customer of the batch last got an automatic reply per thread (cool-down)."""
    since = now_utc() - cooldown
    outbox = table_of(OutboxMessage)
    found: dict[ReplyKey, datetime] = {}
    by_channel: dict[str, set[str]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, set()).add(row.thread)
    for channel, threads in by_channel.items():
        for part in chunks(sorted(threads)):
            result = await session.execute(
                select(
                    outbox.c.thread, outbox.c.recipient_id, outbox.c.purpose, outbox.c.created_at
                ).where(
                    outbox.c.channel == channel,
                    outbox.c.thread.in_(part),
                    outbox.c.purpose.in_(AUTOMATIC_REPLIES),
                    outbox.c.created_at >= since,
                )
            )
            for thread, recipient, purpose, created in result:
                key = reply_key(channel, thread, recipient, purpose)
                found[key] = max(created, found.get(key, created))
    return found


async def _surveyed_customers(session: AsyncSession, rows: list[RowFacts]) -> set[int]:
    """Customers with a satisfaction survey waiting for an answer (usually none)."""
    customers = sorted({r.customer_id for r in rows if r.customer_id is not None})
    found: set[int] = set()
    tickets = table_of(Ticket)
    for part in chunks(customers):
        result = await session.scalars(
            select(tickets.c.customer_id)
            .where(tickets.c.customer_id.in_(part), tickets.c.csat_status == "asked")
            .distinct()
        )
        found.update(c for c in result if c is not None)
    return found
