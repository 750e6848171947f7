"""Writing a routing decision: scores, ticket, event and outbox row in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from responders.routing import Decision
from responders.scoring import Scores
from storage.csat import take_csat_answer
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket, now_utc
from storage.sla import to_company

log = logging.getLogger(__name__)

OPEN_STATUSES = ("open", "waiting_customer")


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


async def _open_ticket_for(
    session: AsyncSession, row: Interaction, window: timedelta
) -> Ticket | None:
    """The ticket this message continues: same customer, same thread or recently."""
    same_thread = await session.scalar(
        select(Ticket)
        .where(
            Ticket.channel == row.channel,
            Ticket.thread == row.thread,
            Ticket.customer_id == row.customer_id,
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    if same_thread is not None:
        return same_thread
    if row.customer_id is None:
        return None
    since = row.created_at - window
    return await session.scalar(
        select(Ticket)
        .where(
            Ticket.customer_id == row.customer_id,
            Ticket.status.in_(OPEN_STATUSES),
            Ticket.updated_at >= since,
        )
        .order_by(Ticket.id.desc())
        .limit(1)
    )


async def _recent_ack(session: AsyncSession, row: Interaction, cooldown: timedelta) -> bool:
    since = now_utc() - cooldown
    found = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.channel == row.channel,
            OutboxMessage.thread == row.thread,
            OutboxMessage.purpose == "ack",
            OutboxMessage.created_at >= since,
        )
        .limit(1)
    )
    return found is not None


def _store_scores(row: Interaction, scores: Scores, decision: Decision) -> None:
    row.polarity = scores.polarity
    row.subjectivity = scores.subjectivity
    row.complaint_score = scores.complaint
    row.language = scores.language
    row.topic = scores.topic
    row.scorer_version = scores.scorer_version
    row.label = str(decision.label)
    row.decision = decision.reason[:255]
    row.status = "processed"
    row.processed_at = now_utc()


async def _continue_ticket(session: AsyncSession, row: Interaction, ticket: Ticket) -> bool:
    """Attach a follow-up message to its ticket; reopen a resolved one. Returns reopened."""
    row.ticket_id = ticket.id
    # Back with the company; the scheduler (it has the calendar) restarts a paused SLA clock.
    reopened = to_company(ticket, now_utc(), None)
    event_type = "reopened_by_customer" if reopened else "customer_followup"
    session.add(
        Event(actor="customer", type=event_type, ticket_id=ticket.id, interaction_id=row.id)
    )
    return reopened


class DecisionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, data: DecisionInput) -> Outcome | None:
        """Record scores and act on the decision. None when already processed (a replay)."""
        try:
            return await self._apply(data)
        except IntegrityError:
            log.info("decision already recorded interaction=%s", data.interaction_id)
            return None

    async def _apply(self, data: DecisionInput) -> Outcome | None:
        decision = data.decision
        async with self.db.transaction() as session:
            row = await session.get(Interaction, data.interaction_id)
            if row is None or row.status != "pending":
                return None
            _store_scores(row, data.scores, decision)
            if await take_csat_answer(session, row):  # recorded instead of reopening
                return Outcome(row.id, str(decision.label), row.ticket_id, False, None, True)
            ticket, opened, joined, reopened = await self._attach_ticket(session, row, data)
            session.add(
                Event(
                    actor="bot",
                    type="scored",
                    ticket_id=row.ticket_id,
                    interaction_id=row.id,
                    data={
                        "label": str(decision.label),
                        "reason": decision.reason,
                        "scorer": data.scores.scorer_version,
                    },
                )
            )
            outbox_id = None
            template = decision.reply_template
            # A follow-up in a thread already acknowledged gets no second acknowledgement.
            wants_reply = template is not None and (not joined or reopened)
            if wants_reply and not await _recent_ack(session, row, data.ack_cooldown):
                assert template is not None
                outbox_id = await self._queue_reply(session, row, template, ticket, data)
            await session.flush()
            return Outcome(
                row.id, str(decision.label), row.ticket_id, opened, outbox_id, joined, reopened
            )

    async def _attach_ticket(
        self, session: AsyncSession, row: Interaction, data: DecisionInput
    ) -> tuple[Ticket | None, bool, bool, bool]:
        """Join the thread's ticket, or open one. Returns (ticket, opened, joined, reopened)."""
        decision = data.decision
        existing = await _open_ticket_for(session, row, data.join_window)
        if existing is not None and (decision.open_ticket or existing.status in OPEN_STATUSES):
            reopened = await _continue_ticket(session, row, existing)
            return existing, False, True, reopened
        if not decision.open_ticket:
            return None, False, False, False
        ticket = Ticket(
            customer_id=row.customer_id,
            origin_interaction_id=row.id,
            channel=row.channel,
            thread=row.thread,
            priority=decision.priority,
            label=str(decision.label),
            topic=data.scores.topic,
            opened_at=row.received_at,
            first_response_due_at=data.due_at(row.received_at),
        )
        session.add(ticket)
        await session.flush()
        row.ticket_id = ticket.id
        session.add(
            Event(
                actor="bot",
                type="ticket_opened",
                ticket_id=ticket.id,
                interaction_id=row.id,
                data={"label": str(decision.label), "priority": decision.priority},
            )
        )
        return ticket, True, False, False

    async def _queue_reply(
        self,
        session: AsyncSession,
        row: Interaction,
        template: str,
        ticket: Ticket | None,
        data: DecisionInput,
    ) -> int | None:
        text = data.render(template, ticket.id if ticket else None)
        if not text:
            return None
        meta = {k: v for k, v in (row.meta or {}).items() if not k.startswith("author_is")}
        item = OutboxMessage(
            inbound_id=row.id,
            purpose="ack" if template == "ack" else template,
            ticket_id=ticket.id if ticket else None,
            channel=row.channel,
            kind=row.kind,
            thread=row.thread,
            in_reply_to=row.external_id,
            recipient_id=(row.meta or {}).get("author_id"),
            text=text,
            meta=meta,
        )
        session.add(item)
        await session.flush()
        return item.id
