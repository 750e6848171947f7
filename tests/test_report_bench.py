"""The benchmark keeps working: a small run prints the promised JSON and cleans up after itself.

Its figures are printed, never asserted (no timed assertions in tests).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from storage.db import sync_url
from tests.support.services import need_tcp
from tests.test_report_metrics import PG_BASE

REPO = Path(__file__).resolve().parents[1]


def bench(*args: str) -> tuple[dict[str, object], int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "benchmarks/report_bench.py",
            "--rows",
            "3000",
            "--runs",
            "1",
            "--json",
            *args,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1]), process.pid


def test_sqlite_run_prints_one_json_object() -> None:
    result, _ = bench("--no-postgres")
    assert result["rows"] == 3000
    assert isinstance(result["sqlite_s"], float) and result["sqlite_s"] > 0
    assert result["postgres_s"] is None


def test_postgres_run_uses_its_own_schema_and_drops_it() -> None:
    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    result, pid = bench()
    assert isinstance(result["postgres_s"], float) and result["postgres_s"] > 0
    engine = create_engine(sync_url(PG_BASE))
    try:
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
                {"s": f"report_bench_{pid}"},
            ).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
