"""A report as HTML sections, shared by the dashboard's overview and the standalone HTML file."""

from __future__ import annotations

from bot.dashboard import charts
from bot.dashboard.html import duration, esc, number, pct, polarity, table, tile
from storage.report_types import Report


def tiles(report: Report) -> str:
    total = report.sentiment[-1]
    inbound = sum(v.inbound for v in report.volume)
    negative_share = 100.0 * total.negative / total.scored if total.scored else None
    r = report.response
    first = r.durations[1]
    return (
        '<div class="tiles">'
        + "".join(
            [
                tile("messages in", f"{inbound:,}"),
                tile("negative", pct(negative_share)),
                tile("mean polarity", number(total.mean_polarity, 3)),
                tile("tickets", f"{r.tickets:,}"),
                tile("first response (median, business)", duration(first.business_median_s)),
                tile("SLA compliance", pct(r.sla_compliance_pct)),
                tile("CSAT", number(r.csat_average, 2)),
            ]
        )
        + "</div>"
    )


def _series(
    report: Report,
) -> tuple[list[str], dict[str, list[float | None]], dict[str, list[int]]]:
    buckets = report.buckets or sorted({t.bucket for t in report.trend})
    index = {b: i for i, b in enumerate(buckets)}
    mean: dict[str, list[float | None]] = {}
    volume: dict[str, list[int]] = {}
    for t in report.trend:
        mean.setdefault(t.channel, [None] * len(buckets))[index[t.bucket]] = t.mean_polarity
        volume.setdefault(t.channel, [0] * len(buckets))[index[t.bucket]] = t.messages
    return buckets, dict(sorted(mean.items())), dict(sorted(volume.items()))


def charts_section(report: Report) -> str:
    buckets, mean, volume = _series(report)
    by = report.query.bucket
    clocks = [
        (
            d.name.replace("_", " "),
            [
                ("median", d.median_s),
                ("p90", d.p90_s),
                ("median (business hours)", d.business_median_s),
                ("p90 (business hours)", d.business_p90_s),
            ],
        )
        for d in report.response.durations
    ]
    split = [(s.channel, s.negative, s.neutral, s.positive) for s in report.sentiment]
    cards = [
        (f"Mean polarity by channel, per {by}", charts.line_chart("mean polarity", buckets, mean)),
        (f"Messages in, per {by}, by channel", charts.stacked_bars("volume", buckets, volume)),
        ("Sentiment split by channel", charts.share_bars("sentiment split", split)),
        ("Response times", charts.grouped_hbars("response times", clocks, duration)),
    ]
    return (
        '<div class="grid">'
        + "".join(
            f'<section class="card"><h2>{esc(title)}</h2>{svg}</section>' for title, svg in cards
        )
        + "</div>"
    )


def tables_section(report: Report) -> str:
    volume = table(
        ("channel", "kind", "in", "ignored", "out"),
        (
            (esc(v.channel), esc(v.kind), f"{v.inbound:,}", f"{v.ignored:,}", f"{v.outbound:,}")
            for v in report.volume
        ),
        numeric={2, 3, 4},
    )
    sentiment = table(
        ("channel", "negative", "neutral", "positive", "mean polarity"),
        (
            (
                esc(s.channel),
                f"{s.negative:,}",
                f"{s.neutral:,}",
                f"{s.positive:,}",
                polarity(s.mean_polarity),
            )
            for s in report.sentiment
        ),
        numeric={1, 2, 3, 4},
    )
    topics = table(
        ("topic", "complaints", "tickets", "mean polarity"),
        (
            (esc(t.topic), f"{t.complaints:,}", f"{t.tickets:,}", polarity(t.mean_polarity))
            for t in report.topics
        ),
        numeric={1, 2, 3},
    )
    w = report.words
    words = table(
        ("word", "in negative", "in others", "score"),
        ((esc(x.word), str(x.negative), str(x.other), f"{x.score:.2f}") for x in w.words),
        numeric={1, 2, 3},
    )
    note = (
        f'<p class="muted">From the newest {w.negative_messages:,} negative and '
        f"{w.other_messages:,} other messages of the period (log-odds, smoothed).</p>"
    )
    return (
        '<div class="grid">'
        f'<section class="card"><h2>Volume by channel and kind</h2>{volume}</section>'
        f'<section class="card"><h2>Sentiment distribution</h2>{sentiment}</section>'
        f'<section class="card"><h2>Top complaint topics</h2>{topics}</section>'
        f'<section class="card"><h2>Words driving negative sentiment</h2>{words}{note}</section>'
        "</div>" + response_section(report)
    )


def response_section(report: Report) -> str:
    r = report.response
    clocks = table(
        ("clock", "tickets", "median", "p90", "median (business)", "p90 (business)"),
        (
            (
                esc(d.name.replace("_", " ")),
                f"{d.count:,}",
                duration(d.median_s),
                duration(d.p90_s),
                duration(d.business_median_s),
                duration(d.business_p90_s),
            )
            for d in r.durations
        ),
        numeric={1, 2, 3, 4, 5},
    )
    policy = table(
        ("measure", "value"),
        [
            ("tickets opened", f"{r.tickets:,}"),
            ("first response on time", f"{r.sla_met:,}"),
            ("not answered yet, not due", f"{r.sla_pending:,}"),
            ("late or overdue", f"{r.sla_breached:,}"),
            ("SLA compliance", pct(r.sla_compliance_pct)),
            ("CSAT average (1-5)", number(r.csat_average)),
            (
                "CSAT response rate",
                f"{pct(r.csat_response_rate_pct)} ({r.csat_answered}/{r.csat_asked})",
            ),
        ],
        numeric={1},
    )
    return (
        '<div class="grid">'
        f'<section class="card"><h2>Response times</h2>{clocks}</section>'
        f'<section class="card"><h2>Service level and satisfaction</h2>{policy}</section>'
        "</div>"
    )


def period_line(report: Report) -> str:
    q = report.query
    channel = f" · channel {q.channel}" if q.channel else " · all channels"
    return (
        f"{q.start:%Y-%m-%d %H:%M} → {q.end:%Y-%m-%d %H:%M} UTC{channel} · per {q.bucket} "
        f"({report.timezone} days) · generated {report.generated_at:%Y-%m-%d %H:%M} UTC"
    )
