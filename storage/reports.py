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
from sqlalchemy.sql.elements import ColumnElement

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


def _period(i: type[Interaction], direction: str) -> tuple[ColumnElement[bool], ...]:
    """The index's equality prefix (channel, kind, direction) and the time range, as params."""
    return (
        i.channel == bindparam("channel"),
        i.kind == bindparam("kind"),
        i.direction == direction,
        i.created_at >= bindparam("lo", type_=i.created_at.type),
        i.created_at < bindparam("hi", type_=i.created_at.type),
    )


def _inbound_statement() -> Any:
    """Inbound counts of one (channel, kind) over one bucket: the unit every sum is built from."""
    i = Interaction
    return select(
        func.count(),
        count_where(i.status == "ignored"),
        count_where(i.polarity < 0),
        count_where(i.polarity == 0),
        count_where(i.polarity > 0),
        func.sum(i.polarity),
    ).where(*_period(i, "in"))


def _outbound_statement() -> Any:
    return select(func.count()).where(*_period(Interaction, "out"))


@dataclass
class _Counts:
    """Sums that merge across kinds, channels or buckets before a mean is taken."""

    inbound: int = 0
    ignored: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    polarity_sum: float = 0.0

    def add(self, other: _Counts) -> None:
        self.inbound += other.inbound
        self.ignored += other.ignored
        self.negative += other.negative
        self.neutral += other.neutral
        self.positive += other.positive
        self.polarity_sum += other.polarity_sum

    @property
    def mean(self) -> float | None:
        scored = self.negative + self.neutral + self.positive
        return self.polarity_sum / scored if scored else None


_Key = tuple[str, str, str]  # channel, kind, bucket label
_Pair = tuple[str, str]  # channel, kind


async def _pairs(session: AsyncSession, query: ReportQuery) -> list[_Pair]:
    """The (channel, kind) pairs ever seen: index-only on both databases (few distinct)."""
    stmt = select(Interaction.channel, Interaction.kind).distinct()
    if query.channel:
        stmt = stmt.where(Interaction.channel == query.channel)
    return [(c, k) for c, k in (await session.execute(stmt)).all()]


async def _cells(
    session: AsyncSession, query: ReportQuery, buckets: list[Slice]
) -> tuple[dict[_Key, _Counts], dict[_Pair, int]]:
    """Inbound counts per (channel, kind, bucket); replies per (channel, kind) for the period."""
    inbound, outbound = _inbound_statement(), _outbound_statement()
    cells: dict[_Key, _Counts] = {}
    replies: dict[_Pair, int] = {}
    for channel, kind in await _pairs(session, query):
        for b in buckets:
            params = {"channel": channel, "kind": kind, "lo": b.start, "hi": b.end}
            total, ignored, neg, neu, pos, psum = (await session.execute(inbound, params)).one()
            if total:
                cells[(channel, kind, b.label)] = _Counts(
                    as_int(total) - as_int(ignored),
                    as_int(ignored),
                    as_int(neg),
                    as_int(neu),
                    as_int(pos),
                    as_float(psum) or 0.0,
                )
        params = {"channel": channel, "kind": kind, "lo": query.start, "hi": query.end}
        sent = as_int(await session.scalar(outbound, params))
        if sent:
            replies[(channel, kind)] = sent
    return cells, replies


def _volume(cells: dict[_Key, _Counts], replies: dict[_Pair, int]) -> list[VolumeRow]:
    by_pair: dict[_Pair, _Counts] = {pair: _Counts() for pair in replies}
    for (channel, kind, _), counts in cells.items():
        by_pair.setdefault((channel, kind), _Counts()).add(counts)
    return [
        VolumeRow(channel, kind, c.inbound, c.ignored, replies.get((channel, kind), 0))
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

    The model's complaints nobody relabelled: one range per topic over the index (label,
    topic, created_at, ...), no sort. Then the (few) messages agents relabelled complaint,
    through a partial index.
    """
    i = Interaction
    columns = (func.count(), func.sum(i.polarity), func.count(i.polarity))
    in_period = [i.created_at >= query.start, i.created_at < query.end, i.direction == "in"]
    if query.channel:
        in_period.append(i.channel == query.channel)
    model_says = [
        i.label == "complaint",
        (i.agent_label.is_(None)) | (i.agent_label == "complaint"),
    ]
    topics = await session.scalars(select(i.topic).where(i.label == "complaint").distinct())
    found: dict[str, tuple[int, float, int]] = {}
    for topic in topics.all():
        same = i.topic.is_(None) if topic is None else i.topic == topic
        n, psum, scored = (
            await session.execute(select(*columns).where(*model_says, same, *in_period))
        ).one()
        _merge(found, topic or NO_TOPIC, n, psum, scored)
    by_agent = select(func.coalesce(i.topic, NO_TOPIC), *columns).where(
        i.agent_label == "complaint", i.label.is_distinct_from("complaint"), *in_period
    )
    for name, n, psum, scored in (await session.execute(by_agent.group_by(i.topic))).all():
        _merge(found, name, n, psum, scored)
    return found


def _merge(
    found: dict[str, tuple[int, float, int]], name: str, n: object, psum: object, scored: object
) -> None:
    if not as_int(n):
        return
    old = found.get(name, (0, 0.0, 0))
    found[name] = (old[0] + as_int(n), old[1] + (as_float(psum) or 0.0), old[2] + as_int(scored))


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
        cells, replies = await _cells(session, query, buckets)
        topics = await _topics(session, query)
        words = await (
            negative_words(session, query)
            if word_sample is None
            else negative_words(session, query, word_sample)
        )
        response = await response_metrics(session, query, calendar, now, db.engine.dialect.name)
    volume = _volume(cells, replies)
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
