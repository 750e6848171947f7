"""`socialbot report` and `socialbot export interactions` as a person runs them: real processes.

The data set is the hand-computed one of tests/test_report_metrics.py; the config gives the
same calendar (UTC, 09:00-17:00 on weekdays, 2026-11-10 a holiday).
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database
from storage.export import COLUMNS
from storage.models import Interaction
from tests.test_report_metrics import seed

REPO = Path(__file__).resolve().parents[1]
FORMULA = '=HYPERLINK("http://evil.example","click")'
PERIOD = ("--from", "2026-11-02", "--to", "2026-11-15")
CONFIG = """
[bot]
database_url = "sqlite:///{db}"
log_level = "WARNING"

[calendar]
timezone = "UTC"
holidays_country = ""
extra_holidays = [2026-11-10]

[calendar.hours]
mon = ["09:00-17:00"]
tue = ["09:00-17:00"]
wed = ["09:00-17:00"]
thu = ["09:00-17:00"]
fri = ["09:00-17:00"]
"""


async def _seed(url: str) -> None:
    db = Database(url)
    try:
        await seed(db)
        async with db.transaction() as session:
            session.add(
                Interaction(
                    direction="in",
                    channel="x",
                    kind="mention",
                    external_id="formula",
                    thread="formula",
                    text=FORMULA,
                    created_at=(await session.get(Interaction, 1)).created_at,  # type: ignore[union-attr]
                    polarity=0.0,
                    status="processed",
                )
            )
    finally:
        await db.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report_cli")
    db = path / "db.sqlite3"
    (path / "socialbot.toml").write_text(CONFIG.format(db=db))
    asyncio.run(_seed(f"sqlite:///{db}"))
    return path


def socialbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "SOCIALBOT_DASHBOARD_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_json_has_every_section(workdir: Path) -> None:
    result = socialbot("report", *PERIOD, "--format", "json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["period"]["from"] == "2026-11-02T00:00:00+00:00"
    assert data["period"]["to"] == "2026-11-16T00:00:00+00:00"  # --to includes that day
    assert len(data["buckets"]) == 14
    x_mention = next(v for v in data["volume"] if (v["channel"], v["kind"]) == ("x", "mention"))
    assert (x_mention["inbound"], x_mention["outbound"]) == (4, 1)  # with the formula message
    assert data["sentiment"][-1]["scored"] == 8
    assert [t["topic"] for t in data["topics"]][:3] == ["delivery", "billing", "refund"]
    assert data["negative_words"]["words"][0]["word"] == "broken"
    response = data["response"]
    assert response["tickets"] == 5
    # "now" is today: ticket 3's due time (2026-11-20) has passed without an answer
    assert (response["sla_met"], response["sla_pending"], response["sla_breached"]) == (1, 0, 3)
    assert response["sla_compliance_pct"] == pytest.approx(25.0)
    assert response["csat_average"] == pytest.approx(4.0)
    first = next(d for d in response["durations"] if d["name"] == "first_response")
    assert first["business_median_s"] == pytest.approx(7200, abs=0.01)


def test_report_csv_is_one_number_per_row(workdir: Path) -> None:
    result = socialbot("report", *PERIOD, "--format", "csv", "--by", "week", cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["section", "bucket", "channel", "kind", "item", "metric", "value"]
    assert ["volume", "", "email", "email", "", "ignored", "1"] in rows
    assert ["trend", "2026-11-09", "email", "", "", "messages", "2"] in rows
    assert ["response", "", "", "", "", "csat_response_rate_pct", "50.0"] in rows
    assert ["negative_words", "", "", "", "broken", "negative", "3"] in rows


def test_report_html_is_one_self_contained_file(workdir: Path) -> None:
    out = workdir / "report.html"
    result = socialbot("report", *PERIOD, "--format", "html", "--out", str(out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4
    assert "<script" not in page.lower()
    assert " src=" not in page and "<link" not in page and "@import" not in page  # offline
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "default-src 'none'" in html.unescape(page)  # the CSP meta tag
    assert "Response times" in page and "delivery" in page


def test_report_table_is_the_default(workdir: Path) -> None:
    result = socialbot("report", *PERIOD, "--channel", "x", cwd=workdir)
    assert result.returncode == 0, result.stderr
    for title in ("volume by channel and kind", "top complaint topics", "SLA compliance"):
        assert title in result.stdout
    assert "email" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xml"), "--format 'xml'"),
        (("--by", "month"), "--by 'month'"),
        (("--since", "7d", "--from", "2026-11-01"), "either --since or --from"),
        (("--from", "2026-11-30", "--to", "2026-11-01"), "the period is empty"),
        (("--from", "30/11/2026"), "use a date like"),
    ],
)
def test_report_input_errors_are_one_line(
    workdir: Path,
    args: tuple[str, ...],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.cli import main  # in-process: the same entry point, without a Python start-up

    config = str(workdir / "socialbot.toml")
    monkeypatch.setattr(sys, "argv", ["socialbot", "report", "--config", config, *args])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_export_csv_to_a_file_with_honest_counts(workdir: Path) -> None:
    out = workdir / "log.csv"
    result = socialbot("export", "interactions", "--out", str(out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "exported 11 interaction(s)" in result.stderr
    assert "━" not in result.stderr  # no progress bar when stderr is not a terminal
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 12
    texts = [r[COLUMNS.index("text")] for r in rows[1:]]
    assert "'" + FORMULA in texts  # a spreadsheet shows the text, never runs it
    first = rows[1]
    assert first[COLUMNS.index("created_at")].startswith("2026-10-30")  # oldest first


def test_export_jsonl_to_stdout_filtered(workdir: Path) -> None:
    result = socialbot(
        "export",
        "interactions",
        "--format",
        "jsonl",
        "--since",
        "2026-11-09",
        "--to",
        "2026-11-09",
        "--channel",
        "x",
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["charged twice, broken billing"]
    assert lines[0]["polarity"] == -0.25 and lines[0]["topic"] == "billing"
    assert set(lines[0]) == set(COLUMNS)


def test_dashboard_refuses_to_start_without_a_token(workdir: Path) -> None:
    result = socialbot("dashboard", "--port", "0", cwd=workdir)
    assert result.returncode == 2
    assert "SOCIALBOT_DASHBOARD_TOKEN" in result.stderr and "Traceback" not in result.stderr
