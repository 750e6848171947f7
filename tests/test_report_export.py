"""The export streams: its memory does not grow with the log, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import create_engine, insert, text

from bot.config import parse_config
from storage.db import Database, sync_url
from storage.export import ExportFilter, count_interactions, export_interactions
from storage.models import Interaction
from tests.support.services import need_tcp
from tests.test_report_metrics import PG_BASE, pg_schema_url

START = datetime(2026, 1, 1, tzinfo=UTC)


class Sink:
    """A file that forgets what it is given (only its size): the export's output never piles up."""

    def __init__(self) -> None:
        self.size = 0
        self.lines = 0

    def write(self, data: str) -> int:
        self.size += len(data)
        self.lines += data.count("\n")
        return len(data)


async def add_rows(db: Database, count: int, first: int = 0) -> None:
    rows = [
        {
            "direction": "in",
            "channel": "x",
            "kind": "mention",
            "external_id": f"m{first + n}",
            "thread": f"t{first + n}",
            "text": f"message number {first + n} " + "lorem ipsum " * 20,
            "meta": {},
            "created_at": START + timedelta(seconds=first + n),
            "received_at": START,
            "status": "processed",
            "polarity": 0.1,
        }
        for n in range(count)
    ]
    async with db.transaction() as session:
        await session.execute(insert(Interaction), rows)


async def peak_bytes(db: Database, fmt: str) -> tuple[int, int]:
    """Peak memory (tracemalloc) of one export, and the rows written."""
    gc.collect()
    tracemalloc.start()
    try:
        written = await export_interactions(db, ExportFilter(), fmt, Sink(), batch=200)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, written


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'export.sqlite3'}")
        await db.upgrade()
        yield db
        await db.close()
        return
    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    schema = f"export_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(PG_BASE), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        db = Database(pg_schema_url(schema))
        await db.upgrade()
        yield db
        await db.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_memory_does_not_grow_with_the_log(empty_db: Database, fmt: str) -> None:
    await add_rows(empty_db, 1_500)
    await peak_bytes(empty_db, fmt)  # warm-up: caches, compiled statements
    small, n_small = await peak_bytes(empty_db, fmt)
    await add_rows(empty_db, 13_500, first=1_500)
    large, n_large = await peak_bytes(empty_db, fmt)
    assert (n_small, n_large) == (1_500, 15_000)
    # ten times the rows; loading them all would need several MB more (each row ~300 bytes)
    assert large < small * 2 + 512 * 1024, (small, large)


async def test_export_reports_progress_and_honours_the_filter(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        await db.upgrade()
        await add_rows(db, 2_500)
        flt = ExportFilter(
            start=START + timedelta(seconds=500), end=START + timedelta(seconds=2_100)
        )
        assert await count_interactions(db, flt) == 1_600
        seen: list[int] = []
        sink = Sink()
        written = await export_interactions(db, flt, "jsonl", sink, seen.append, batch=500)  # type: ignore[arg-type]
        assert written == 1_600 == sink.lines
        assert seen == [500, 1_000, 1_500, 1_600]
    finally:
        await db.close()


def test_progress_bar_only_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import report_cmd

    config = parse_config({"bot": {"database_url": f"sqlite:///{tmp_path / 'bar.sqlite3'}"}})

    async def prepare() -> None:
        db = Database(config.database_url)
        await db.upgrade()
        await add_rows(db, 1_200)
        await db.close()

    asyncio.run(prepare())
    out = tmp_path / "out.csv"
    for terminal in (True, False):
        screen = StringIO()
        console = Console(file=screen, force_terminal=terminal, width=100)
        monkeypatch.setattr(report_cmd, "errors", console)
        assert report_cmd.run_export(config, ExportFilter(), "csv", out) == 1_200
        shown = screen.getvalue()
        assert "exported 1,200 interaction(s)" in shown
        assert ("exporting" in shown) is terminal
    assert out.read_text().count("\n") == 1_201
