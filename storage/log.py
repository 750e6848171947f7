"""The interaction log, filtered, as the CLI and reports read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import Customer, Interaction

SENTIMENTS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class LogFilter:
    channel: str | None = None
    sentiment: str | None = None  # negative | neutral | positive (by polarity)
    label: str | None = None
    since: datetime | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    created_at: datetime
    direction: str
    channel: str
    kind: str
    author: str
    text: str
    polarity: float | None
    label: str | None
    ticket_id: int | None
    decision: str | None


async def query_log(db: Database, flt: LogFilter) -> list[LogRow]:
    query = (
        select(Interaction, Customer.handle)
        .join(Customer, Customer.id == Interaction.customer_id, isouter=True)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(flt.limit)
    )
    if flt.channel:
        query = query.where(Interaction.channel == flt.channel)
    if flt.label:
        query = query.where(Interaction.label == flt.label)
    if flt.since:
        query = query.where(Interaction.created_at >= flt.since)
    if flt.sentiment == "negative":
        query = query.where(Interaction.polarity < 0)
    elif flt.sentiment == "positive":
        query = query.where(Interaction.polarity > 0)
    elif flt.sentiment == "neutral":
        query = query.where(Interaction.polarity == 0)
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    return [
        LogRow(
            id=i.id,
            created_at=i.created_at,
            direction=i.direction,
            channel=i.channel,
            kind=i.kind,
            author=("(us)" if i.direction == "out" else (handle or "?")),
            text=i.text,
            polarity=i.polarity,
            label=i.label,
            ticket_id=i.ticket_id,
            decision=i.decision,
        )
        for i, handle in rows
    ]
