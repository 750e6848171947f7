"""`socialbot report`, `socialbot export interactions` and `socialbot dashboard`."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, TextIO, cast
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.common import (
    ConfigOption,
    console,
    errors,
    load,
    parse_since,
    run_async,
    with_database,
)
from bot.config import Config
from bot.errors import UserInputError
from responders.calendar import BusinessCalendar
from storage.db import Database
from storage.export import FORMATS as EXPORT_FORMATS
from storage.export import (
    ExportFilter,
    ExportFormat,
    count_interactions,
    export_interactions,
    safe_csv_row,
)
from storage.models import now_utc
from storage.report_buckets import Bucket
from storage.report_response import format_duration
from storage.report_types import CSV_HEADER, Report, ReportQuery, csv_rows
from storage.reports import build_report

REPORT_FORMATS = ("table", "csv", "json", "html")


def parse_moment(value: str, zone: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time; a bare date is a day of the business calendar's zone.

    With ``end_of_day`` a bare date means the end of that day (--to 2026-11-30 includes it).
    """
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end_of_day else 0)
            return datetime.combine(day, time(0), zone)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{value!r}: use a date like 2026-11-01 or 2026-11-01T09:00") from None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def report_period(
    since: str | None, start: str | None, end: str | None, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    if since and start:
        raise UserInputError("use either --since or --from, not both")
    stop = parse_moment(end, zone, end_of_day=True) if end else now_utc()
    begin = parse_moment(start, zone) if start else (parse_since(since or "30d") or stop)
    if begin >= stop:
        raise UserInputError("the period is empty: --from/--since must be before --to")
    return begin, stop


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        numeric = i > 0 and bool(rows) and all(_numeric(row[i]) for row in rows)
        table.add_column(header, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*row)
    return table


def _numeric(cell: str) -> bool:
    return cell[:1].isdigit() or cell[:1] in "+-" or cell == "-"


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} %"


def print_tables(report: Report, out: Console) -> None:
    q = report.query
    out.print(
        f"[bold]Sentiment report[/] {q.start:%Y-%m-%d %H:%M} → {q.end:%Y-%m-%d %H:%M} UTC"
        f" · {escape(q.channel or 'all channels')} · per {q.bucket} ({report.timezone} days)"
    )
    volume = [
        (escape(v.channel), escape(v.kind), f"{v.inbound:,}", f"{v.ignored:,}", f"{v.outbound:,}")
        for v in report.volume
    ]
    out.print(_table("volume by channel and kind", VOLUME, volume))
    sentiment = [
        (
            escape(s.channel),
            f"{s.negative:,}",
            f"{s.neutral:,}",
            f"{s.positive:,}",
            _f(s.mean_polarity),
        )
        for s in report.sentiment
    ]
    out.print(_table("sentiment (TextBlob polarity <0 / =0 / >0)", SENTIMENT, sentiment))
    trend = [
        (
            t.bucket,
            escape(t.channel),
            f"{t.messages:,}",
            f"{t.negative:,}",
            f"{t.neutral:,}",
            f"{t.positive:,}",
            _f(t.mean_polarity),
        )
        for t in report.trend
    ]
    out.print(_table(f"mean polarity per {q.bucket}", TREND, trend))
    topics = [
        (escape(t.topic), f"{t.complaints:,}", f"{t.tickets:,}", _f(t.mean_polarity))
        for t in report.topics
    ]
    out.print(_table("top complaint topics", TOPICS, topics))
    w = report.words
    words = [(escape(x.word), f"{x.negative:,}", f"{x.other:,}", f"{x.score:.2f}") for x in w.words]
    sample = f"sample: {w.negative_messages:,} negative, {w.other_messages:,} other"
    out.print(_table(f"words driving negative sentiment ({sample})", WORDS, words))
    print_response(report, out)


VOLUME = ("channel", "kind", "in", "ignored", "out")
SENTIMENT = ("channel", "negative", "neutral", "positive", "mean polarity")
TREND = ("bucket", "channel", "messages", "neg", "neu", "pos", "mean")
TOPICS = ("topic", "complaints", "tickets", "mean polarity")
WORDS = ("word", "in negative", "in others", "score")
CLOCKS = ("clock", "tickets", "median", "p90", "median (bus.)", "p90 (bus.)")


def print_response(report: Report, out: Console) -> None:
    r = report.response
    clocks = [
        (
            d.name.replace("_", " "),
            f"{d.count:,}",
            format_duration(d.median_s),
            format_duration(d.p90_s),
            format_duration(d.business_median_s),
            format_duration(d.business_p90_s),
        )
        for d in r.durations
    ]
    out.print(_table("response times (tickets opened in the period)", CLOCKS, clocks))
    csat = "-" if r.csat_average is None else f"{r.csat_average:.2f}"
    sla = f"on time {r.sla_met}, not yet due {r.sla_pending}, late {r.sla_breached}"
    rate = f"{_pct(r.csat_response_rate_pct)} ({r.csat_answered}/{r.csat_asked})"
    policy = [
        ("tickets opened", f"{r.tickets:,}"),
        ("SLA compliance", f"{_pct(r.sla_compliance_pct)} ({sla})"),
        ("CSAT average (1-5)", csat),
        ("CSAT response rate", rate),
    ]
    out.print(_table("service level and satisfaction", ("measure", "value"), policy))


def write_report(report: Report, fmt: str, path: Path | None) -> None:
    if fmt == "table":
        print_tables(report, console)
        return
    with output(path) as out:
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(CSV_HEADER)
            for row in csv_rows(report):
                writer.writerow(safe_csv_row(row))
        elif fmt == "json":
            out.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        else:
            from bot.dashboard.report_html import render_report_html

            out.write(render_report_html(report))
    if path is not None:
        errors.print(f"report written to {escape(str(path))}")


def make_report(config: Config, query: ReportQuery) -> Report:
    calendar = BusinessCalendar(config.calendar)

    async def act(db: Database) -> Report:
        return await build_report(db, query, calendar)

    return run_async(with_database(config, act))


def run_export(config: Config, flt: ExportFilter, fmt: ExportFormat, path: Path | None) -> int:
    """Stream the log to ``path`` (or stdout); a progress bar only when stderr is a terminal."""
    show = errors.is_terminal

    async def act(db: Database) -> int:
        total = await count_interactions(db, flt) if show else None
        with output(path) as out, _progress(show, total) as advance:
            return await export_interactions(db, flt, fmt, out, advance)

    written = run_async(with_database(config, act))
    where = f" to {path}" if path else ""
    errors.print(f"exported {written:,} interaction(s){escape(where)}", highlight=False)
    return written


@contextmanager
def _progress(show: bool, total: int | None) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task("export", total=total)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        yield advance


def register(app: typer.Typer) -> None:
    _register_report(app)
    _register_export(app)
    _register_dashboard(app)


def _register_report(app: typer.Typer) -> None:
    @app.command()
    def report(
        config: ConfigOption = None,
        since: Annotated[str | None, typer.Option(help="7d, 12h, or a date (default 30d)")] = None,
        start: Annotated[
            str | None, typer.Option("--from", help="First day (or ISO time).")
        ] = None,
        end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
        channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
        by: Annotated[str, typer.Option(help="day | week")] = "day",
        fmt: Annotated[str, typer.Option("--format", help="table | csv | json | html")] = "table",
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
        top: Annotated[int, typer.Option(min=1, max=100, help="Rows of topics and words.")] = 10,
    ) -> None:
        """Sentiment, volume, complaint topics and the policy's response metrics."""
        if fmt not in REPORT_FORMATS:
            raise UserInputError(f"--format {fmt!r}: use one of {', '.join(REPORT_FORMATS)}")
        if by not in ("day", "week"):
            raise UserInputError(f"--by {by!r}: use day or week")
        cfg = load(config)
        begin, stop = report_period(since, start, end, ZoneInfo(cfg.calendar.timezone))
        query = ReportQuery(begin, stop, channel, cast(Bucket, by), top)
        write_report(make_report(cfg, query), fmt, out)


def _register_export(app: typer.Typer) -> None:
    export_app = typer.Typer(help="Export the raw log for spreadsheets and BI tools.")
    app.add_typer(export_app, name="export")

    @export_app.command("interactions")
    def export_cmd(
        config: ConfigOption = None,
        since: Annotated[str | None, typer.Option(help="7d, 12h or a date (default: all)")] = None,
        end: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
        channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
        fmt: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
    ) -> None:
        """One row per interaction with its scores and ticket, streamed (constant memory)."""
        if fmt not in EXPORT_FORMATS:
            raise UserInputError(f"--format {fmt!r}: use csv or jsonl")
        cfg = load(config)
        zone = ZoneInfo(cfg.calendar.timezone)
        stop = parse_moment(end, zone, end_of_day=True) if end else None
        flt = ExportFilter(parse_since(since), stop, channel)
        run_export(cfg, flt, fmt, out)


def _register_dashboard(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        config: ConfigOption = None,
        host: Annotated[str | None, typer.Option(help="Default: [dashboard] host.")] = None,
        port: Annotated[int | None, typer.Option(help="Default: [dashboard] port.")] = None,
    ) -> None:
        """The read-only web dashboard (token from SOCIALBOT_DASHBOARD_TOKEN)."""
        from bot.dashboard.serve import serve_forever

        run_async(serve_forever(load(config), host, port))
