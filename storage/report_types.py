"""What a report holds: small frozen records, and their flat forms for JSON and CSV.

Durations are seconds (floats) so that spreadsheets and BI tools can do arithmetic on them;
the table and HTML views format them for people.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storage.report_buckets import Bucket


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    channel: str | None = None
    bucket: Bucket = "day"
    top: int = 10  # rows in the topic and word tables


@dataclass(frozen=True, slots=True)
class VolumeRow:
    channel: str
    kind: str
    inbound: int  # customers' messages
    ignored: int  # inbound but never answered: our own posts, bots, spam
    outbound: int


@dataclass(frozen=True, slots=True)
class SentimentRow:
    """Inbound, scored messages of one channel ("all" for the total)."""

    channel: str
    negative: int
    neutral: int
    positive: int
    mean_polarity: float | None

    @property
    def scored(self) -> int:
        return self.negative + self.neutral + self.positive


@dataclass(frozen=True, slots=True)
class TrendRow:
    bucket: str  # first local day of the day/week, 'YYYY-MM-DD' (business time zone)
    channel: str
    messages: int  # inbound messages
    negative: int
    neutral: int
    positive: int
    mean_polarity: float | None


@dataclass(frozen=True, slots=True)
class TopicRow:
    topic: str
    complaints: int  # inbound messages labelled complaint with this topic
    tickets: int  # tickets opened in the period with this topic
    mean_polarity: float | None  # of those complaints


@dataclass(frozen=True, slots=True)
class WordRow:
    word: str
    negative: int  # negative messages in the sample containing the word
    other: int  # neutral/positive messages in the sample containing it
    score: float  # smoothed log-odds of appearing in a negative message


@dataclass(frozen=True, slots=True)
class WordSample:
    negative_messages: int
    other_messages: int
    words: list[WordRow]


@dataclass(frozen=True, slots=True)
class DurationStats:
    """One clock (acknowledgement, first response, resolution) over the period's tickets."""

    name: str
    count: int  # tickets where the clock has stopped
    median_s: float | None
    p90_s: float | None
    business_median_s: float | None
    business_p90_s: float | None


@dataclass(frozen=True, slots=True)
class ResponseMetrics:
    tickets: int
    durations: list[DurationStats]
    sla_met: int  # answered by the due time
    sla_pending: int  # not answered yet, not due yet
    sla_breached: int  # answered late, or unanswered past due
    csat_asked: int
    csat_answered: int
    csat_average: float | None

    @property
    def sla_total(self) -> int:
        return self.sla_met + self.sla_pending + self.sla_breached

    @property
    def sla_compliance_pct(self) -> float | None:
        total = self.sla_total
        return None if total == 0 else 100.0 * (self.sla_met + self.sla_pending) / total

    @property
    def csat_response_rate_pct(self) -> float | None:
        return None if self.csat_asked == 0 else 100.0 * self.csat_answered / self.csat_asked


@dataclass(frozen=True, slots=True)
class Report:
    query: ReportQuery
    generated_at: datetime
    volume: list[VolumeRow]
    sentiment: list[SentimentRow]
    trend: list[TrendRow]
    topics: list[TopicRow]
    words: WordSample
    response: ResponseMetrics
    timezone: str = "UTC"  # the zone the buckets' days are counted in
    channels: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)  # every bucket of the period, empty or not

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO times, derived percentages included."""
        q = self.query
        response = asdict(self.response)
        response.update(
            sla_compliance_pct=self.response.sla_compliance_pct,
            csat_response_rate_pct=self.response.csat_response_rate_pct,
        )
        return {
            "period": {
                "from": q.start.isoformat(),
                "to": q.end.isoformat(),
                "channel": q.channel,
                "bucket": q.bucket,
                "timezone": self.timezone,
            },
            "generated_at": self.generated_at.isoformat(),
            "channels": self.channels,
            "buckets": self.buckets,
            "volume": [asdict(r) for r in self.volume],
            "sentiment": [asdict(r) | {"scored": r.scored} for r in self.sentiment],
            "trend": [asdict(r) for r in self.trend],
            "topics": [asdict(r) for r in self.topics],
            "negative_words": asdict(self.words),
            "response": response,
        }


CSV_HEADER = ("section", "bucket", "channel", "kind", "item", "metric", "value")

Row = tuple[object, ...]


def csv_rows(report: Report) -> Iterator[Row]:
    """One number per row ("long" format): every BI tool can pivot it, no nested sections."""
    yield from _sentiment_csv(report)
    yield from _lists_csv(report)
    yield from _response_csv(report.response)


def _sentiment_csv(report: Report) -> Iterator[Row]:
    for v in report.volume:
        for metric in ("inbound", "ignored", "outbound"):
            yield ("volume", "", v.channel, v.kind, "", metric, getattr(v, metric))
    for s in report.sentiment:
        for metric in ("negative", "neutral", "positive", "mean_polarity"):
            yield ("sentiment", "", s.channel, "", "", metric, getattr(s, metric))
    for t in report.trend:
        for metric in ("messages", "negative", "neutral", "positive", "mean_polarity"):
            yield ("trend", t.bucket, t.channel, "", "", metric, getattr(t, metric))


def _lists_csv(report: Report) -> Iterator[Row]:
    for p in report.topics:
        for metric in ("complaints", "tickets", "mean_polarity"):
            yield ("topics", "", "", "", p.topic, metric, getattr(p, metric))
    for w in report.words.words:
        for metric in ("negative", "other", "score"):
            yield ("negative_words", "", "", "", w.word, metric, getattr(w, metric))


def _response_csv(r: ResponseMetrics) -> Iterator[Row]:
    for d in r.durations:
        for metric in ("count", "median_s", "p90_s", "business_median_s", "business_p90_s"):
            yield ("response", "", "", "", d.name, metric, getattr(d, metric))
    for metric, value in (
        ("tickets", r.tickets),
        ("sla_met", r.sla_met),
        ("sla_pending", r.sla_pending),
        ("sla_breached", r.sla_breached),
        ("sla_compliance_pct", r.sla_compliance_pct),
        ("csat_asked", r.csat_asked),
        ("csat_answered", r.csat_answered),
        ("csat_average", r.csat_average),
        ("csat_response_rate_pct", r.csat_response_rate_pct),
    ):
        yield ("response", "", "", "", "", metric, value)
