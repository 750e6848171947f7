"""Marketing's sentiment report, computed in SQL: aggregates over index ranges, never row by row.

Interactions are only ever aggregated in the database (a month can hold millions); Python
sees at most a few thousand aggregate rows, a bounded text sample for the word list
(storage/report_words.py) and the period's ticket timestamps (storage/report_response.py).

How volume, sentiment and the trend are counted: one aggregate query per (channel, kind,
bucket), each a pure range over the index (channel, kind, created_at, ...). SQLite has no
hash aggregation: a GROUP BY over a million rows sorts them all, which alone costs more
than the whole report does this way. The same statements run on PostgreSQL.

Sentiment classes follow TextBlob's polarity of inbound messages: negative < 0, neutral = 0,
positive > 0; unscored messages (bots, our own posts, failures) are left out.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from responders.calendar import BusinessCalendar
from storage.db import Database
from storage.models import Interaction, Ticket, now_utc
from storage.report_buckets import Slice, slices
from storage.report_response import response_metrics
from storage.report_sql import as_float, as_int, count_where
from storage.report_types import (
    Report,
    ReportQuery,
    SentimentRow,
    TopicRow,
    TrendRow,
    VolumeRow,
)
from storage.report_words import negative_words

log = logging.getLogger(__name__)

NO_TOPIC = "(none)"


def _range_statement() -> Any:
    """Counts of one (channel, kind) over one time range: the unit every sum is built from."""
    i = Interaction
    inbound = i.direction == "in"
    return select(
        count_where(inbound & (i.status != "ignored")),
        count_where(inbound & (i.status == "ignored")),
        count_where(i.direction == "out"),
        count_where(inbound & (i.polarity < 0)),
        count_where(inbound & (i.polarity == 0)),
        count_where(inbound & (i.polarity > 0)),
        func.sum(i.polarity).filter(inbound),
    ).where(
        i.channel == bindparam("channel"),
        i.kind == bindparam("kind"),
        i.created_at >= bindparam("lo", type_=i.created_at.type),
        i.created_at < bindparam("hi", type_=i.created_at.type),
    )


@dataclass
class _Counts:
    """Sums that merge across kinds, channels or buckets before a mean is taken."""

    inbound: int = 0
    ignored: int = 0
    outbound: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    polarity_sum: float = 0.0

    def add(self, other: _Counts) -> None:
        self.inbound += other.inbound
        self.ignored += other.ignored
        self.outbound += other.outbound
        self.negative += other.negative
        self.neutral += other.neutral
        self.positive += other.positive
        self.polarity_sum += other.polarity_sum

    @property
    def mean(self) -> float | None:
        scored = self.negative + self.neutral + self.positive
        return self.polarity_sum / scored if scored else None


_Key = tuple[str, str, str]  # channel, kind, bucket label


async def _pairs(session: AsyncSession, query: ReportQuery) -> list[tuple[str, str]]:
    """The (channel, kind) pairs ever seen: index-only on both databases (few distinct)."""
    stmt = select(Interaction.channel, Interaction.kind).distinct()
    if query.channel:
        stmt = stmt.where(Interaction.channel == query.channel)
    return [(c, k) for c, k in (await session.execute(stmt)).all()]


async def _cells(
    session: AsyncSession, query: ReportQuery, buckets: list[Slice]
) -> dict[_Key, _Counts]:
    stmt = _range_statement()
    cells: dict[_Key, _Counts] = {}
    for channel, kind in await _pairs(session, query):
        for b in buckets:
            params = {"channel": channel, "kind": kind, "lo": b.start, "hi": b.end}
            row = (await session.execute(stmt, params)).one()
            n_in, n_ignored, n_out, neg, neu, pos, psum = row
            counts = _Counts(
                as_int(n_in),
                as_int(n_ignored),
                as_int(n_out),
                as_int(neg),
                as_int(neu),
                as_int(pos),
                as_float(psum) or 0.0,
            )
            if counts.inbound or counts.ignored or counts.outbound:
                cells[(channel, kind, b.label)] = counts
    return cells


def _volume(cells: dict[_Key, _Counts]) -> list[VolumeRow]:
    by_pair: dict[tuple[str, str], _Counts] = defaultdict(_Counts)
    for (channel, kind, _), counts in cells.items():
        by_pair[(channel, kind)].add(counts)
    return [
        VolumeRow(channel, kind, c.inbound, c.ignored, c.outbound)
        for (channel, kind), c in sorted(by_pair.items())
    ]


def _sentiment(cells: dict[_Key, _Counts]) -> list[SentimentRow]:
    by_channel: dict[str, _Counts] = defaultdict(_Counts)
    total = _Counts()
    for (channel, _, _), counts in cells.items():
        by_channel[channel].add(counts)
        total.add(counts)
    rows = [(name, c) for name, c in sorted(by_channel.items())] + [("all", total)]
    return [SentimentRow(name, c.negative, c.neutral, c.positive, c.mean) for name, c in rows]


def _trend(cells: dict[_Key, _Counts]) -> list[TrendRow]:
    by_bucket: dict[tuple[str, str], _Counts] = defaultdict(_Counts)
    for (channel, _, label), counts in cells.items():
        by_bucket[(label, channel)].add(counts)
    return [
        TrendRow(label, channel, c.inbound, c.negative, c.neutral, c.positive, c.mean)
        for (label, channel), c in sorted(by_bucket.items())
        if c.inbound
    ]


async def _complaint_topics(
    session: AsyncSession, query: ReportQuery
) -> dict[str, tuple[int, float, int]]:
    """topic -> (complaints, polarity sum, scored) by the label in force (an agent's wins).

    Two ranges instead of COALESCE(agent_label, label) so that each uses an index: the
    model's complaints nobody relabelled, and the (few) messages agents relabelled.
    """
    i = Interaction
    topic = func.coalesce(i.topic, NO_TOPIC)
    columns = (topic, func.count(), func.sum(i.polarity), func.count(i.polarity))
    in_period = (i.created_at >= query.start, i.created_at < query.end, i.direction == "in")
    by_model = select(*columns).where(
        i.label == "complaint",
        *in_period,
        (i.agent_label.is_(None)) | (i.agent_label == "complaint"),
    )
    by_agent = select(*columns).where(
        i.agent_label == "complaint", *in_period, i.label.is_distinct_from("complaint")
    )
    found: dict[str, tuple[int, float, int]] = {}
    for stmt in (by_model, by_agent):
        if query.channel:
            stmt = stmt.where(i.channel == query.channel)
        for name, n, psum, scored in (await session.execute(stmt.group_by(topic))).all():
            old = found.get(name, (0, 0.0, 0))
            found[name] = (old[0] + n, old[1] + (as_float(psum) or 0.0), old[2] + scored)
    return found


async def _topics(session: AsyncSession, query: ReportQuery) -> list[TopicRow]:
    messages = await _complaint_topics(session, query)
    ticket_topic = func.coalesce(Ticket.topic, NO_TOPIC)
    by_ticket = (
        select(ticket_topic, func.count())
        .where(Ticket.opened_at >= query.start, Ticket.opened_at < query.end)
        .group_by(ticket_topic)
    )
    if query.channel:
        by_ticket = by_ticket.where(Ticket.channel == query.channel)
    tickets = {t: as_int(n) for t, n in (await session.execute(by_ticket)).all()}
    rows = []
    for name in set(messages) | set(tickets):
        n, psum, scored = messages.get(name, (0, 0.0, 0))
        rows.append(TopicRow(name, n, tickets.get(name, 0), psum / scored if scored else None))
    rows.sort(key=lambda r: (-r.complaints, -r.tickets, r.topic))
    return rows[: query.top]


async def build_report(
    db: Database,
    query: ReportQuery,
    calendar: BusinessCalendar,
    *,
    now: datetime | None = None,
    word_sample: int | None = None,
) -> Report:
    """Every section of the report for one period (and optionally one channel)."""
    now = now or now_utc()
    buckets = slices(query.start, query.end, query.bucket, calendar.zone)
    async with db.session() as session:
        cells = await _cells(session, query, buckets)
        topics = await _topics(session, query)
        words = await (
            negative_words(session, query)
            if word_sample is None
            else negative_words(session, query, word_sample)
        )
        response = await response_metrics(session, query, calendar, now, db.engine.dialect.name)
    volume = _volume(cells)
    log.debug("report built: %d cells over %d buckets", len(cells), len(buckets))
    return Report(
        query=query,
        generated_at=now,
        volume=volume,
        sentiment=_sentiment(cells),
        trend=_trend(cells),
        topics=topics,
        words=words,
        response=response,
        timezone=str(calendar.zone),
        channels=sorted({v.channel for v in volume}),
        buckets=[b.label for b in buckets],
    )
