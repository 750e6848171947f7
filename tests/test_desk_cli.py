"""The desk from the command line: the same actions, gate and history as in Discord."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.errors import ConnectorError
from connectors.base import Kind
from storage.db import Database
from storage.models import Event, OutboxMessage, Ticket
from tests.support.harness import FakeConnector, message, run_once
from tests.support.stub_scorer import StubScorer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "socialbot.toml").write_text(
        f'[bot]\ndatabase_url = "sqlite:///{tmp_path / "db.sqlite3"}"\nlog_level = "WARNING"\n'
        "[desk.canned]\n"
        'shipped = "Hi {name}, a replacement for ticket #{ticket} is on its way. {agent}"\n'
    )
    config = load_config(tmp_path / "socialbot.toml")
    fake = FakeConnector()
    fake.push(
        message("my parcel never arrived", id="c1", kind=Kind.DM, thread="dm-1", author="zed")
    )
    asyncio.run(run_once(config, [fake], StubScorer()))
    return tmp_path


def cli(workdir: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--config", str(workdir / "socialbot.toml")])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


def rows(workdir: Path, model: type[object]) -> list[object]:
    async def read() -> list[object]:
        db = Database(load_config(workdir / "socialbot.toml").database_url)
        try:
            async with db.session() as session:
                return list(await session.scalars(select(model)))
        finally:
            await db.close()

    return asyncio.run(read())


def test_cli_runs_every_desk_action_with_the_cli_user_as_actor(workdir: Path) -> None:
    assert "Ticket #1 claimed by jess." in cli(workdir, "tickets", "claim", "1", "--as", "jess")
    assert "assigned to <@42>" in cli(workdir, "tickets", "assign", "1", "<@42>", "--as", "jess")
    assert "internal, never sent" in cli(workdir, "tickets", "note", "1", "VIP", "--as", "jess")
    assert "queued" in cli(workdir, "tickets", "canned", "1", "shipped", "--as", "jess")
    assert "snoozed until" in cli(workdir, "tickets", "snooze", "1", "1h30m", "--as", "jess")
    assert "labelled not_complaint" in cli(workdir, "tickets", "label", "1", "not", "--as", "jess")
    assert "resolved (refund)" in cli(workdir, "resolve", "1", "refund", "--as", "jess")
    assert "reopened" in cli(workdir, "tickets", "reopen", "1", "--as", "jess")

    [ticket] = rows(workdir, Ticket)
    assert isinstance(ticket, Ticket)
    assert ticket.assignee == "discord:42" and ticket.status == "open"
    history = [(e.actor, e.type) for e in rows(workdir, Event) if isinstance(e, Event)]
    for step in ("claimed", "assigned", "note", "agent_reply_queued", "snoozed", "relabelled",
                 "resolved", "reopened"):  # fmt: skip
        assert ("cli:jess", step) in history
    [canned] = [
        r for r in rows(workdir, OutboxMessage) if getattr(r, "purpose", "") == "agent_reply"
    ]
    assert isinstance(canned, OutboxMessage)
    assert canned.text == "Hi zed, a replacement for ticket #1 is on its way. jess"
    assert canned.thread == "dm-1" and canned.kind == "dm"

    shown = cli(workdir, "tickets", "show", "1")
    assert "relabelled" in shown and "cli:jess" in shown


def test_cli_refuses_when_the_policy_says_the_cli_is_not_an_agent(workdir: Path) -> None:
    config = workdir / "socialbot.toml"
    config.write_text(config.read_text() + "[desk.agents]\ncli = false\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "tickets", "claim", "1", "--config", str(config)],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4, result.stderr
    assert "only members of the support team" in result.stderr
    assert "Traceback" not in result.stderr
    [refusal] = [e for e in rows(workdir, Event) if getattr(e, "type", "") == "command_refused"]
    assert isinstance(refusal, Event) and refusal.data["command"] == "claim"


def test_cli_mistakes_are_one_line_errors(workdir: Path) -> None:
    result = CliRunner().invoke(
        app, ["tickets", "snooze", "1", "soon", "--config", str(workdir / "socialbot.toml")]
    )
    assert result.exit_code != 0
    assert "not a duration like 2h" in str(result.exception)


def test_sweep_runs_one_pass_of_the_policy_clock(workdir: Path) -> None:
    cli(workdir, "resolve", "1", "info", "--as", "jess")
    assert "csat_asked: #1" in cli(workdir, "tickets", "sweep")
    assert "nothing due" in cli(workdir, "tickets", "sweep")
    [question] = [r for r in rows(workdir, OutboxMessage) if getattr(r, "purpose", "") == "csat"]
    assert isinstance(question, OutboxMessage) and question.thread == "dm-1"


def test_show_prints_why_a_reply_failed(workdir: Path) -> None:
    cli(workdir, "reply", "1", "A new parcel is on its way", "--as", "jess")
    fake = FakeConnector()
    fake.fail_sends.append(ConnectorError("the customer blocks DMs from us"))
    asyncio.run(run_once(load_config(workdir / "socialbot.toml"), [fake], StubScorer()))

    shown = cli(workdir, "tickets", "show", "1")
    # The details column folds at the terminal's width: read the table without its layout.
    squashed = "".join(shown.replace("│", " ").split())
    assert "send_failedoutbox_id:2;error:refused:thecustomerblocksDMsfromus" in squashed
