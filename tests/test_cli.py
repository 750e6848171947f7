"""The `socialbot` command as a person uses it: real processes, real exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def socialbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "socialbot.toml").write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "db.sqlite3"}"\nlog_level = "WARNING"\n'
    )
    return tmp_path


def test_demo_once_prints_summary_and_second_run_sends_nothing_twice(workdir: Path) -> None:
    first = socialbot("run", "--demo", "--once", cwd=workdir, check=True)
    assert "socialbot run summary" in first.stdout
    assert "-> [demo]" in first.stdout  # the replies are printed
    acks_first = first.stdout.count("We have logged this as ticket")
    assert acks_first >= 10

    second = socialbot("run", "--demo", "--once", cwd=workdir, check=True)
    assert "We have logged this as ticket" not in second.stdout
    assert "nothing was sent twice" in second.stdout


def test_tickets_reply_resolve_and_log(workdir: Path) -> None:
    socialbot("run", "--demo", "--once", cwd=workdir, check=True)
    listing = socialbot("tickets", "list", cwd=workdir, check=True)
    assert "tickets (" in listing.stdout and "open" in listing.stdout

    shown = socialbot("tickets", "show", "1", cwd=workdir, check=True)
    assert "Ticket #1" in shown.stdout and "ticket_opened" in shown.stdout

    replied = socialbot(
        "reply", "1", "We are on it, sorry!", "--as", "jess", cwd=workdir, check=True
    )
    assert "queued" in replied.stdout
    # the running daemon (here: the next --once run) sends it through the ticket's thread
    sent = socialbot("run", "--demo", "--once", cwd=workdir, check=True)
    assert "We are on it, sorry!" in sent.stdout
    history = socialbot("tickets", "show", "1", cwd=workdir, check=True)
    assert "cli:jess" in history.stdout and "sent_agent_reply" in history.stdout

    resolved = socialbot("resolve", "1", "refund", cwd=workdir, check=True)
    assert "resolved" in resolved.stdout
    log = socialbot("log", "--sentiment", "negative", "--limit", "5", cwd=workdir, check=True)
    assert "interaction log" in log.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("tickets", "show", "9999"), 3, "no ticket #9999"),
        (("reply", "1", "   "), 2, "the reply text is empty"),
        (("resolve", "1", "bribe"), 2, "unknown resolution 'bribe'"),
        (("log", "--since", "yesterday-ish"), 2, "--since 'yesterday-ish'"),
        (("log", "--sentiment", "angry"), 2, "--sentiment 'angry'"),
        (("run", "--config", "missing.toml"), 2, "missing.toml: config file not found"),
        # Usage errors found by typer itself (typer >= 0.22 carries its own copy of click).
        (("log", "--limit", "0"), 2, "Invalid value for '--limit'"),
        (("tickets", "list", "--bogus"), 2, "No such option: --bogus"),
        (("no-such-command",), 2, "No such command 'no-such-command'"),
    ],
)
def test_errors_are_one_line_with_exit_code(
    workdir: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = socialbot(*args, cwd=workdir)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_stops_startup_with_one_line(workdir: Path) -> None:
    (workdir / "socialbot.toml").write_text("[bot]\nworkers = 'many'\n")
    result = socialbot("run", "--demo", "--once", cwd=workdir)
    assert result.returncode == 2
    assert "socialbot.toml: bot.workers:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_connectors_lists_installed_types(workdir: Path) -> None:
    result = socialbot("connectors", cwd=workdir, check=True)
    for name in ("demo", "x", "reddit", "discord", "email"):
        assert name in result.stdout


def test_db_upgrade_reports_revision(workdir: Path) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    result = socialbot("db", "upgrade", cwd=workdir, check=True)
    assert f"schema at revision {head}" in result.stdout
    again = socialbot("db", "current", cwd=workdir, check=True)
    assert again.stdout.strip() == head


def test_sigterm_drains_and_exits_cleanly(workdir: Path) -> None:
    (workdir / "socialbot.toml").write_text(
        f'[bot]\ndatabase_url = "sqlite:///{workdir / "db.sqlite3"}"\n'
        f"[connectors.demo]\ninterval_seconds = 0.01\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (workdir / "db.sqlite3").exists() and _acks(workdir) > 0:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopping" in err and "socialbot run summary" in out
    assert "Traceback" not in err


def _acks(workdir: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(workdir / "db.sqlite3") as conn:
            return int(
                conn.execute("select count(*) from outbox where status='sent'").fetchone()[0]
            )
    except sqlite3.OperationalError:
        return 0
