"""How long the 30-day sentiment report takes over a large log, on SQLite and PostgreSQL.

    python benchmarks/report_bench.py [--rows 1000000] [--days 30] [--json] [--no-postgres]

Seeds ``--rows`` interactions spread over the last ``--days`` days (default: all of them
inside the report's 30-day window, the worst case) plus one ticket per ~30 messages, into a
temporary SQLite file and into PostgreSQL (``--pg-url``, default 127.0.0.1:5432 database
``test``, in a schema of its own that is dropped at the end). Then times
``storage.reports.build_report`` for the last 30 days through the same async engine the CLI
uses. Target: under 2 s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine, make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from responders.calendar import BusinessCalendar, CalendarSettings
from storage.db import Database, sync_url, upgrade_schema
from storage.models import Interaction, Ticket
from storage.report_types import ReportQuery
from storage.reports import build_report

BATCH = 20_000
TICKET_EVERY = 30  # one ticket per this many messages, about
CHANNELS = (("x", ("mention", "dm")), ("reddit", ("comment", "dm")), ("discord", ("mention",)))
CHANNELS += (("email", ("email",)),)
TOPICS = ("delivery", "refund", "billing", "defect", "account", "support")
NEGATIVE = [
    "broken",
    "late",
    "terrible",
    "refund",
    "never",
    "awful",
    "damaged",
    "rude",
    "waiting",
    "cancelled",
]
POSITIVE = [
    "love",
    "great",
    "fast",
    "thanks",
    "awesome",
    "helpful",
    "perfect",
    "quick",
    "happy",
    "nice",
]
FILLER = [
    "order",
    "package",
    "drill",
    "blender",
    "app",
    "account",
    "store",
    "item",
    "delivery",
    "box",
    "week",
]


def _progress(label: str, done: int, total: int, quiet: bool) -> None:
    if not quiet:
        print(f"\r  {label}: {done:,}/{total:,}", end="" if done < total else "\n", file=sys.stderr)


def _text(rng: random.Random, polarity: float | None) -> str:
    words = rng.sample(FILLER, 3)
    if polarity is not None and polarity < 0:
        words += rng.sample(NEGATIVE, 2)
    elif polarity is not None and polarity > 0:
        words += rng.sample(POSITIVE, 2)
    rng.shuffle(words)
    return "my " + " ".join(words)


def _ticket(tid: int, opened: datetime, rng: random.Random) -> dict[str, Any]:
    first = opened + timedelta(hours=rng.uniform(0.2, 40)) if rng.random() < 0.8 else None
    resolved = first + timedelta(hours=rng.uniform(1, 72)) if first and rng.random() < 0.6 else None
    asked = resolved + timedelta(minutes=5) if resolved else None
    return {
        "id": tid,
        "origin_interaction_id": tid,
        "channel": "x",
        "thread": f"t{tid}",
        "status": "resolved" if resolved else "open",
        "priority": "normal",
        "label": "complaint",
        "topic": rng.choice(TOPICS),
        "opened_at": opened,
        "acknowledged_at": opened + timedelta(seconds=rng.uniform(1, 120)),
        "first_response_due_at": opened + timedelta(hours=30),
        "first_response_at": first,
        "resolved_at": resolved,
        "csat_asked_at": asked,
        "csat_score": rng.randint(1, 5) if asked and rng.random() < 0.4 else None,
        "updated_at": opened,
    }


def _rows(
    n: int, days: int, now: datetime, seed: int
) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(interaction, ticket or None) pairs; ids are explicit so that tickets can be linked."""
    rng = random.Random(seed)
    span = days * 86400
    for i in range(1, n + 1):
        created = now - timedelta(seconds=rng.uniform(1, span))
        channel, kinds = rng.choice(CHANNELS)
        inbound = rng.random() < 0.75
        ignored = inbound and rng.random() < 0.02
        polarity = None if not inbound or ignored else rng.choice((-0.6, -0.2, 0.0, 0.3, 0.7))
        if polarity is not None and polarity != 0:
            polarity = round(polarity + rng.uniform(-0.15, 0.15), 3)
        complaint = polarity is not None and polarity < -0.1
        ticket = _ticket(i, created, rng) if complaint and rng.random() < 0.12 else None
        yield (
            {
                "id": i,
                "direction": "in" if inbound else "out",
                "channel": channel,
                "kind": rng.choice(kinds),
                "external_id": f"m{i}",
                "thread": f"t{i}",
                "text": _text(rng, polarity),
                "meta": {},
                "created_at": created,
                "received_at": created,
                "status": "ignored" if ignored else ("processed" if inbound else "sent"),
                "polarity": polarity,
                "label": "complaint" if complaint else ("ignored" if ignored else "other"),
                "topic": rng.choice(TOPICS) if complaint else None,
                "ticket_id": ticket["id"] if ticket else None,
            },
            ticket,
        )


def seed(engine: Engine, n: int, days: int, now: datetime, quiet: bool) -> int:
    """Bulk insert (Core executemany in batches); returns the number of tickets."""
    interactions: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    n_tickets = 0
    done = 0

    def flush() -> None:
        with engine.begin() as conn:
            if tickets:  # interactions point at tickets: those go first
                conn.execute(insert(Ticket.__table__), tickets)
            conn.execute(insert(Interaction.__table__), interactions)
        interactions.clear()
        tickets.clear()

    for interaction, ticket in _rows(n, days, now, seed=42):
        interactions.append(interaction)
        if ticket:
            tickets.append(ticket)
            n_tickets += 1
        if len(interactions) >= BATCH:
            done += len(interactions)
            flush()
            _progress("seeding", done, n, quiet)
    if interactions:
        done += len(interactions)
        flush()
        _progress("seeding", done, n, quiet)
    return n_tickets


async def time_report(url: str, now: datetime, runs: int) -> list[float]:
    db = Database(url)
    calendar = BusinessCalendar(CalendarSettings())
    query = ReportQuery(start=now - timedelta(days=30), end=now, bucket="day")
    timings: list[float] = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            report = await build_report(db, query, calendar, now=now)
            timings.append(time.perf_counter() - started)
        assert report.sentiment[-1].scored > 0, "the report saw no data"
    finally:
        await db.close()
    return timings


def bench(url: str, label: str, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    quiet = args.json and not sys.stderr.isatty()
    upgrade_schema(url)
    engine = create_engine(sync_url(url))
    try:
        started = time.perf_counter()
        tickets = seed(engine, args.rows, args.days, now, quiet)
        seeded = time.perf_counter() - started
    finally:
        engine.dispose()
    # Fresh statistics (and, on PostgreSQL, the visibility map that index-only scans need),
    # as autovacuum would give a real database after such a load.
    maintenance = create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as conn:
            conn.execute(text("VACUUM ANALYZE" if url.startswith("postgresql") else "ANALYZE"))
    finally:
        maintenance.dispose()
    timings = asyncio.run(time_report(url, now, args.runs))
    result = {"seed_s": round(seeded, 2), "tickets": tickets, "runs_s": timings}
    if not args.json:
        runs = ", ".join(f"{t:.3f}" for t in timings)
        print(f"{label}: seeded {args.rows:,} interactions + {tickets:,} tickets in {seeded:.1f} s")
        print(f"{label}: 30-day report in {timings[0]:.3f} s (runs: {runs})")
    return result


def pg_url_with_schema(base: str, schema: str) -> str:
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def bench_postgres(args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    schema = f"report_bench_{os.getpid()}"
    admin = create_engine(sync_url(args.pg_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            return bench(pg_url_with_schema(args.pg_url, schema), "postgres", args, now)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="spread the rows over this many days")
    parser.add_argument("--runs", type=int, default=3, help="report runs per database")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--pg-url", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    # the machine's load when the run started: timings on a busy machine read differently
    out: dict[str, Any] = {"rows": args.rows, "days": args.days, "load_1m": os.getloadavg()[0]}
    if not args.json:
        print(f"load average (1 min) at start: {out['load_1m']:.2f} on {os.cpu_count()} CPU(s)")
    with tempfile.TemporaryDirectory(prefix="report_bench_") as tmp:
        sqlite = bench(f"sqlite:///{tmp}/bench.sqlite3", "sqlite", args, now)
    out["sqlite_s"] = round(sqlite["runs_s"][0], 3)
    out["sqlite"] = sqlite
    if not args.no_postgres:
        postgres = bench_postgres(args, now)
        out["postgres_s"] = round(postgres["runs_s"][0], 3)
        out["postgres"] = postgres
    else:
        out["postgres_s"] = None
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
