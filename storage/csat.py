"""The satisfaction survey: asking once after resolve, and recording the answer.

Asking writes an outbox row (purpose ``csat``) in the ticket's own conversation when it is
private (DM, email); for a public post it opens a DM where the platform allows it
(``dm_channels``) and otherwise records why it skipped. ``Ticket.csat_status`` makes the
question at most once per ticket, even when the ticket is reopened and resolved again.

The answer is the customer's next message after the question (same customer, any thread
of that channel — a DM answer to a public ticket counts). When it parses as a score or a
"stop", it is recorded instead of reopening the ticket; anything else is a normal message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from responders.csat import parse_answer
from storage import sla
from storage.models import Customer, Event, Interaction, OutboxMessage, Ticket

log = logging.getLogger(__name__)

PRIVATE_KINDS = ("dm", "email")


@dataclass(frozen=True, slots=True)
class SurveyRoute:
    """Where the question goes, or why it does not."""

    kind: str | None  # None: skip
    reason: str = ""


def route_survey(
    origin: Interaction, customer: Customer | None, dm_channels: set[str]
) -> SurveyRoute:
    if customer is None or customer.erased_at is not None:
        return SurveyRoute(None, "customer unknown or erased")
    if customer.csat_opted_out:
        return SurveyRoute(None, "customer opted out of surveys")
    if customer.is_bot:
        return SurveyRoute(None, "customer is a bot")
    if origin.kind in PRIVATE_KINDS:
        return SurveyRoute(origin.kind)
    if origin.channel in dm_channels and (origin.meta or {}).get("author_id"):
        return SurveyRoute("dm")
    return SurveyRoute(None, f"public {origin.kind} on {origin.channel}: no private channel")


def survey_row(origin: Interaction, ticket: Ticket, kind: str, text: str) -> OutboxMessage:
    """The question as an outbox row; UNIQUE(inbound, purpose) forbids a second one."""
    meta = {k: v for k, v in (origin.meta or {}).items() if not k.startswith("author_is")}
    in_thread = kind == origin.kind
    return OutboxMessage(
        inbound_id=origin.id,
        purpose="csat",
        ticket_id=ticket.id,
        channel=origin.channel,
        kind=kind,
        thread=origin.thread,
        # In its own conversation the question answers the first message; a new DM does not.
        in_reply_to=origin.external_id if in_thread else None,
        recipient_id=(origin.meta or {}).get("author_id"),
        text=text,
        meta=meta,
    )


async def _asked_ticket(session: AsyncSession, row: Interaction) -> Ticket | None:
    if row.customer_id is None:
        return None
    return await session.scalar(
        select(Ticket)
        .where(
            Ticket.customer_id == row.customer_id,
            Ticket.csat_status == "asked",
            Ticket.status.in_((sla.RESOLVED, sla.CLOSED)),
            Ticket.csat_asked_at <= row.received_at,
        )
        .order_by(Ticket.csat_asked_at.desc())
        .limit(1)
    )


async def take_csat_answer(session: AsyncSession, row: Interaction) -> bool:
    """Record ``row`` as the answer to an open survey. False: not an answer, handle normally."""
    ticket = await _asked_ticket(session, row)
    if ticket is None:
        return False
    answer = parse_answer(row.text)
    if answer is None:
        return False
    row.ticket_id = ticket.id
    row.decision = "csat answer"
    now = row.received_at
    ticket.csat_answered_at, ticket.updated_at = now, now
    if answer.opt_out:
        ticket.csat_status = "declined"
        customer = await session.get(Customer, row.customer_id)
        if customer is not None:
            customer.csat_opted_out = True
        kind, data = "csat_opted_out", {}
    else:
        ticket.csat_status, ticket.csat_score = "answered", answer.score
        kind, data = "csat_answered", {"score": answer.score}
    session.add(
        Event(actor="customer", type=kind, ticket_id=ticket.id, interaction_id=row.id, data=data)
    )
    log.info("csat ticket=%s %s", ticket.id, kind)
    return True


def expired(ticket: Ticket, now: datetime, window_days: float) -> bool:
    asked = ticket.csat_asked_at
    return asked is not None and (now - asked).total_seconds() > window_days * 86400
