"""The outbox: every reply is written before it is sent and marked after."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import Kind, Outbound, SentRef
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket, now_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingReply:
    outbox_id: int
    purpose: str
    ticket_id: int | None
    attempts: int
    actor: str
    reply: Outbound


def _to_outbound(row: OutboxMessage) -> Outbound:
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


def _pending(row: OutboxMessage) -> PendingReply:
    return PendingReply(
        row.id, row.purpose, row.ticket_id, row.attempts, row.actor, _to_outbound(row)
    )


class OutboxRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim_due(self, channels: set[str], limit: int = 50) -> list[PendingReply]:
        """Take due replies for the given channels and mark them `sending`."""
        now = now_utc()
        async with self.db.transaction() as session:
            query = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.channel.in_(channels),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list(await session.scalars(query))
            for row in rows:
                row.status = "sending"
                row.attempts += 1
            return [_pending(row) for row in rows]

    async def in_doubt(self) -> list[PendingReply]:
        """Rows left `sending` by a crash: the platform may or may not have them."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == "sending")
            )
            return [_pending(row) for row in rows]

    async def release(self, outbox_id: int) -> None:
        """Back to pending (a reconciliation found it was not posted)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(status="pending")
            )

    async def mark_sent(self, item: PendingReply, ref: SentRef, reconciled: bool = False) -> None:
        now = now_utc()
        async with self.db.transaction() as session:
            row = await session.get(OutboxMessage, item.outbox_id)
            if row is None or row.status == "sent":
                return
            inbound = await session.get(Interaction, row.inbound_id)
            values = {
                "direction": "out",
                "kind": row.kind,
                "thread": row.thread,
                "in_reply_to": row.in_reply_to,
                "customer_id": inbound.customer_id if inbound else None,
                "ticket_id": row.ticket_id,
                "text": row.text,
                "url": ref.url,
                "meta": {"purpose": row.purpose, "actor": row.actor},
                "status": "sent",
                "label": row.purpose,
            }
            # A connector may have read our post back (as our own account) before this ran:
            # that row is this reply, so it becomes the outbound record instead of a clash.
            out = await session.scalar(
                select(Interaction).where(
                    Interaction.channel == row.channel, Interaction.external_id == ref.external_id
                )
            )
            if out is None:
                out = Interaction(
                    channel=row.channel, external_id=ref.external_id, created_at=now, **values
                )
                session.add(out)
            else:
                for key, value in values.items():
                    setattr(out, key, value)
            await session.flush()
            row.status, row.sent_at = "sent", now
            row.sent_external_id, row.outbound_interaction_id = ref.external_id, out.id
            await self._update_ticket(session, row, now)
            session.add(
                Event(
                    actor=row.actor,
                    type=f"sent_{row.purpose}",
                    ticket_id=row.ticket_id,
                    interaction_id=out.id,
                    data={
                        "outbox_id": row.id,
                        "external_id": ref.external_id,
                        "reconciled": reconciled,
                    },
                )
            )

    @staticmethod
    async def _update_ticket(session: AsyncSession, row: OutboxMessage, now: datetime) -> None:
        if row.ticket_id is None:
            return
        ticket = await session.get(Ticket, row.ticket_id)
        if ticket is None:
            return
        if row.purpose == "ack" and ticket.acknowledged_at is None:
            ticket.acknowledged_at = now
        if row.purpose == "agent_reply" and ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.updated_at = now

    async def mark_failed(self, item: PendingReply, error: str, retry_in: timedelta | None) -> None:
        """Record a failed send; retry later, or give up (status failed) when retry_in is None."""
        async with self.db.transaction() as session:
            row = await session.get(OutboxMessage, item.outbox_id)
            if row is None:
                return
            row.last_error = error[:1000]
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
