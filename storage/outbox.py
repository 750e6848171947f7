"""The outbox: every reply is written before it is sent and marked after.

Several senders (worker processes) can share one outbox: a claim is one atomic statement
(``UPDATE ... WHERE id IN (SELECT ... [FOR UPDATE SKIP LOCKED]) RETURNING``) and gives the
claiming sender a lease (``lease_until``) on the rows it is sending. Only rows whose lease
ran out — their sender died — are reconciled by another one, never rows in flight.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import RedactSecrets, secret_values
from connectors.base import Kind, Outbound, SentRef
from storage import sla
from storage.bulk import chunks, insert_for_dialect, table_of
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket, UTCDateTime, now_utc
from storage.staff import add_notice, user_mention

log = logging.getLogger(__name__)

# How long a claimed reply belongs to its sender. Far longer than one send; a sender that
# holds rows this long has died, and another one asks the platform (find_sent) about them.
SENDING_LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PendingReply:
    outbox_id: int
    purpose: str
    ticket_id: int | None
    attempts: int
    actor: str
    reply: Outbound


def _to_outbound(row: Any) -> Outbound:
    """From an ORM row or a Core row of the outbox (same attribute names)."""
    return Outbound(
        channel=row.channel,
        kind=Kind(row.kind),
        thread=row.thread,
        text=row.text,
        in_reply_to=row.in_reply_to,
        recipient_id=row.recipient_id,
        idempotency_key=f"socialbot-outbox-{row.id}",
        # The purpose lets a connector tell automatic replies from people's (email headers).
        meta={**{str(k): str(v) for k, v in (row.meta or {}).items()}, "purpose": row.purpose},
    )


def _pending(row: Any) -> PendingReply:
    return PendingReply(
        row.id, row.purpose, row.ticket_id, row.attempts, row.actor, _to_outbound(row)
    )


class OutboxRepo:
    def __init__(self, db: Database, lease: timedelta = SENDING_LEASE) -> None:
        self.db = db
        self.lease = lease

    async def claim_due(self, channels: set[str], limit: int = 50) -> list[PendingReply]:
        """Take due replies for the given channels: `sending`, leased to this sender."""
        now = now_utc()
        outbox = table_of(OutboxMessage)  # Core, not ORM: plain rows, no session bookkeeping
        pick = (
            select(outbox.c.id)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= now,
                outbox.c.channel.in_(channels),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:  # SQLite: the UPDATE itself holds the only write lock
            pick = pick.with_for_update(skip_locked=True)
        claim = (
            update(outbox)
            .where(outbox.c.id.in_(pick.scalar_subquery()), outbox.c.status == "pending")
            .values(status="sending", attempts=outbox.c.attempts + 1, lease_until=now + self.lease)
            .returning(*outbox.c)
        )
        async with self.db.transaction() as session:
            rows = list(await session.execute(claim))
        return [_pending(row) for row in sorted(rows, key=lambda r: r.id)]

    async def in_doubt(self, *, leased_too: bool = False) -> list[PendingReply]:
        """Rows left `sending` by a dead sender: the platform may or may not have them.

        A row another live sender holds (lease not run out) is not in doubt — unless the
        caller knows it is the only sender (``leased_too``: a daemon with its own in-process
        queue, starting after a crash, while the dead process's leases still run).
        """
        query = select(OutboxMessage).where(OutboxMessage.status == "sending")
        if not leased_too:
            query = query.where(
                or_(
                    OutboxMessage.lease_until.is_(None),
                    OutboxMessage.lease_until <= now_utc(),
                )
            )
        async with self.db.session() as session:
            rows = await session.scalars(query)
            return [_pending(row) for row in rows]

    async def release(self, outbox_id: int) -> None:
        """Back to pending (a reconciliation found it was not posted)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id)
                .values(status="pending", lease_until=None)
            )

    async def mark_sent_many(
        self, sent: Sequence[tuple[PendingReply, SentRef]], reconciled: bool = False
    ) -> None:
        """Mark replies the platform accepted, in one transaction (set-based).

        Each becomes an outbound interaction — or takes over the row of our own post when a
        connector already read it back — its ticket notes the acknowledgement or first
        response, and an event records it.
        """
        if not sent:
            return
        now = now_utc()
        refs = {item.outbox_id: ref for item, ref in sent}
        async with self.db.transaction() as session:
            rows = await _unsent_rows(session, list(refs))
            if not rows:
                return
            out_ids = await self._upsert_outbound(session, rows, refs, now)
            await _write_marks(session, rows, refs, out_ids, now, reconciled)

    async def _upsert_outbound(
        self,
        session: AsyncSession,
        rows: list[Any],
        refs: dict[int, SentRef],
        now: datetime,
    ) -> dict[tuple[str, str], int]:
        values = [
            {
                "direction": "out",
                "channel": row.channel,
                "external_id": refs[row.id].external_id,
                "kind": row.kind,
                "thread": row.thread,
                "in_reply_to": row.in_reply_to,
                "customer_id": row.customer_id,
                "ticket_id": row.ticket_id,
                "text": row.text,
                "url": refs[row.id].url,
                "meta": {"purpose": row.purpose, "actor": row.actor},
                "status": "sent",
                "label": row.purpose,
                "created_at": now,
            }
            for row in rows
        ]
        result = await session.execute(_outbound_upsert(self.db.is_sqlite), values)
        return {(r.channel, r.external_id): r.id for r in result}

    async def mark_sent(self, item: PendingReply, ref: SentRef, reconciled: bool = False) -> None:
        await self.mark_sent_many([(item, ref)], reconciled=reconciled)

    async def mark_failed(self, item: PendingReply, error: str, retry_in: timedelta | None) -> None:
        """Record a failed send; retry later, or give up (status failed) when retry_in is None.

        Giving up on a ticket's reply also queues a staff notice: the customer is left
        without that answer until a person reaches them another way. An agent's reply given
        up also hands a ticket still waiting on the customer back to the company.
        """
        error = RedactSecrets(secret_values()).redact(error)  # shown to staff from here on
        async with self.db.transaction() as session:
            row = await session.get(OutboxMessage, item.outbox_id)
            if row is None:
                return
            row.last_error = error[:1000]
            row.lease_until = None
            if retry_in is None:
                row.status = "failed"
                session.add(
                    Event(
                        actor="bot",
                        type="send_failed",
                        ticket_id=row.ticket_id,
                        data={"outbox_id": row.id, "error": error[:500]},
                    )
                )
                if row.ticket_id is not None:
                    ticket = await session.get(Ticket, row.ticket_id)
                    assignee = ticket.assignee if ticket is not None else None
                    who = row.actor if row.purpose == "agent_reply" else assignee
                    await add_notice(
                        session,
                        row.ticket_id,
                        "reply_failed",
                        _failed_text(row, error),
                        mention=user_mention(who),
                        dedupe_key=str(row.id),  # one per reply given up, never repeated
                    )
                    if ticket is not None and row.purpose == "agent_reply":
                        await _hand_back(session, ticket, row)
            else:
                row.status = "pending"
                row.next_attempt_at = now_utc() + retry_in

    async def pending_count(
        self, channels: set[str] | None = None, *, due_only: bool = False
    ) -> int:
        async with self.db.session() as session:
            query = (
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
            )
            if channels is not None:
                query = query.where(OutboxMessage.channel.in_(channels))
            if due_only:
                query = query.where(OutboxMessage.next_attempt_at <= now_utc())
            return int(await session.scalar(query) or 0)


_PURPOSES = {
    "ack": "acknowledgement",
    "thanks": "thank-you reply",
    "agent_reply": "agent reply",
    "csat": "satisfaction question (CSAT)",
    "nudge": "follow-up nudge",
    "close_notice": "closing notice",
}
_REASON_CHARS = 300


def _failed_text(row: OutboxMessage, error: str) -> str:
    """The staff notice for a reply given up: which one, where, why (one line, trimmed)."""
    reason = " ".join(error.split()).rstrip(".")
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 1] + "…"
    what = _PURPOSES.get(row.purpose, row.purpose or "reply")
    return (
        f"Reply failed: the {what} for ticket #{row.ticket_id} on {row.channel} ({row.kind}) "
        f"could not be sent and will not be retried: {reason}. The customer has not received "
        "it; answer them another way."
    )


async def _hand_back(session: AsyncSession, ticket: Ticket, row: OutboxMessage) -> None:
    """Queuing the agent's reply paused the ticket on the customer; it never reached them.

    The ticket waits on us again with its clock running (as when the customer writes back:
    the scheduler, which has the calendar, restarts a paused clock), so no nudge or
    auto-close follows on the broken channel. Not when an agent resolved it meanwhile, or
    another agent reply is still on its way or was delivered after this one was queued.
    ``first_response_at`` stays unset: only a delivered reply sets it.
    """
    if ticket.status != sla.WAITING_CUSTOMER:
        return
    others = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.ticket_id == ticket.id,
            OutboxMessage.purpose == "agent_reply",
            OutboxMessage.id != row.id,
            or_(
                OutboxMessage.status.in_(("pending", "sending")),
                (OutboxMessage.status == "sent") & (OutboxMessage.id > row.id),
            ),
        )
    )
    if others:
        return
    sla.to_company(ticket, now_utc(), None)
    session.add(
        Event(
            actor="bot",
            type="reopened_reply_failed",
            ticket_id=ticket.id,
            data={"outbox_id": row.id},
        )
    )


_OUTBOUND_REPLACED = (
    "direction", "kind", "thread", "in_reply_to", "customer_id", "ticket_id", "text", "url",
    "meta", "status", "label",
)  # fmt: skip


@functools.cache
def _outbound_upsert(is_sqlite: bool) -> Any:
    """INSERT of outbound interactions, built once per dialect (``excluded`` copies the
    whole table each time it is built: ~5 % of the pipeline's CPU when built per batch)."""
    table = table_of(Interaction)
    statement = insert_for_dialect(is_sqlite, table)
    # A connector may have read our post back (as our own account) before this ran:
    # that row is this reply, so it becomes the outbound record instead of a clash.
    replaced = {name: statement.excluded[name] for name in _OUTBOUND_REPLACED}
    return statement.on_conflict_do_update(
        index_elements=[table.c.channel, table.c.external_id], set_=replaced
    ).returning(table.c.id, table.c.channel, table.c.external_id)


async def _unsent_rows(session: AsyncSession, outbox_ids: list[int]) -> list[Any]:
    """The outbox rows among these not yet marked sent, with their inbound's customer."""
    outbox, inbound = table_of(OutboxMessage), table_of(Interaction)
    found: list[Any] = []
    for part in chunks(sorted(outbox_ids)):
        result = await session.execute(
            select(outbox, inbound.c.customer_id)
            .join(inbound, inbound.c.id == outbox.c.inbound_id, isouter=True)
            .where(outbox.c.id.in_(part), outbox.c.status != "sent")
        )
        found += list(result)
    return found


async def _write_marks(
    session: AsyncSession,
    rows: list[Any],
    refs: dict[int, SentRef],
    out_ids: dict[tuple[str, str], int],
    now: datetime,
    reconciled: bool,
) -> None:
    outbox, tickets = table_of(OutboxMessage), table_of(Ticket)
    out_of = {row.id: out_ids[(row.channel, refs[row.id].external_id)] for row in rows}
    await session.execute(
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"))
        .values(
            status="sent",
            sent_at=now,
            lease_until=None,
            sent_external_id=bindparam("b_external_id"),
            outbound_interaction_id=bindparam("b_out_id"),
        ),
        [
            {"b_id": row.id, "b_external_id": refs[row.id].external_id, "b_out_id": out_of[row.id]}
            for row in rows
        ],
    )
    # One UPDATE per ticket, in ticket order: two senders (processes) marking replies of the
    # same tickets then lock them in the same order and cannot deadlock.
    ticketed: dict[int, tuple[bool, bool]] = {}
    for row in rows:
        if row.ticket_id is not None:
            ack, first = ticketed.get(row.ticket_id, (False, False))
            ticketed[row.ticket_id] = (
                ack or row.purpose == "ack",
                first or row.purpose == "agent_reply",
            )
    if ticketed:
        # First acknowledgement / first human response win; later ones change nothing.
        await session.execute(
            update(tickets)
            .where(tickets.c.id == bindparam("b_id"))
            .values(
                acknowledged_at=func.coalesce(
                    tickets.c.acknowledged_at, bindparam("b_ack", type_=UTCDateTime())
                ),
                first_response_at=func.coalesce(
                    tickets.c.first_response_at, bindparam("b_first", type_=UTCDateTime())
                ),
                updated_at=now,
            ),
            [
                {
                    "b_id": ticket_id,
                    "b_ack": now if ack else None,
                    "b_first": now if first else None,
                }
                for ticket_id, (ack, first) in sorted(ticketed.items())
            ],
        )
    events = [
        {
            "actor": row.actor,
            "type": f"sent_{row.purpose}",
            "ticket_id": row.ticket_id,
            "interaction_id": out_of[row.id],
            "data": {
                "outbox_id": row.id,
                "external_id": refs[row.id].external_id,
                "reconciled": reconciled,
            },
        }
        for row in rows
    ]
    await session.execute(table_of(Event).insert(), events)
