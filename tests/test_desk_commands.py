"""The desk's core, without any chat platform: the permission gate and every command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.desk.commands import COMMANDS
from bot.desk.guards import Actor, Gate, from_source, has_role, in_channel, is_user
from bot.desk.handlers import Args, Assignee, parse_duration
from bot.desk.settings import AgentSettings, StaffSettings
from bot.errors import NotFound, UserInputError
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage
from tests.support.desk_kit import (
    CLI,
    ManualClock,
    count,
    desk,
    events,
    open_ticket,
    outbox,
    ticket,
)
from tests.support.harness import make_config

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 in New York (default calendar)


def discord_actor(*, roles: tuple[int, ...] = (), names: tuple[str, ...] = (), user: int = 7,
                  channel: int | None = 100) -> Actor:  # fmt: skip
    return Actor(
        id=f"discord:{user}",
        name="someone",
        source="discord",
        role_ids=frozenset(roles),
        role_names=frozenset(names),
        channel_id=channel,
        user_id=user,
    )


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(
        tmp_path,
        desk={
            "agents": {"role_ids": [11]},
            "staff": {"channel_id": 100},
            "canned": {"long": "Hi {name}! " + "We are very sorry. " * 30 + "— {agent}"},
        },
    )


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    await database.upgrade()
    yield database
    await database.close()


def test_guards_compose_with_and_or_not() -> None:
    support = has_role(ids=[11], names=["Support"])
    lead = is_user([42])
    guard = (support | lead) & in_channel(100) & ~from_source("cli")

    assert guard(discord_actor(roles=(11,)))
    assert guard(discord_actor(names=("SUPPORT",)))  # role names are case-insensitive
    assert guard(discord_actor(user=42))
    assert not guard(discord_actor(roles=(11,), channel=5))
    assert not guard(discord_actor(roles=(12,)))
    assert "has an agent role" in guard.describe and "not from cli" in guard.describe


def test_gate_denies_by_default() -> None:
    gate = Gate(AgentSettings(), StaffSettings())
    assert not gate.allows(discord_actor(roles=(11,), names=("Support", "admin")), "agent")
    assert gate.allows(CLI, "agent")  # whoever runs the CLI holds the database already
    assert not Gate(AgentSettings(cli=False), StaffSettings()).allows(CLI, "agent")
    assert not gate.allows(CLI, "no-such-permission")


async def test_refused_command_is_answered_privately_and_logged(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=NOW)
    outsider = discord_actor(roles=(99,), user=5)

    reply = await desk(config, db).execute(outsider, "resolve", Args(ticket=number))

    assert reply.refused and reply.private and "only members of the support team" in reply.text
    [refusal] = await events(db, kind="command_refused")
    assert refusal.actor == "discord:5" and refusal.data["command"] == "resolve"
    assert (await ticket(db, number)).status == "open"


@pytest.mark.parametrize(
    ("name", "args", "event"),
    [
        ("claim", Args(), "claimed"),
        ("assign", Args(agent=Assignee("discord:42", "lee")), "assigned"),
        ("reply", Args(text="We are on it"), "agent_reply_queued"),
        ("note", Args(text="internal"), "note"),
        ("snooze", Args(duration="2h"), "snoozed"),
        ("resolve", Args(resolution="refund"), "resolved"),
        ("label", Args(label="not"), "relabelled"),
        ("canned", Args(name="long"), "agent_reply_queued"),
    ],
)
async def test_every_action_is_written_to_the_ticket_history(
    config: Config, db: Database, name: str, args: Args, event: str
) -> None:
    number = await open_ticket(db, config, at=NOW)
    agent = discord_actor(roles=(11,))
    before = await count(db, Event, ticket_id=number)

    reply = await desk(config, db).execute(agent, name, Args(**{**_fields(args), "ticket": number}))

    assert not reply.refused and reply.ticket_id == number
    found = await events(db, number, event)
    assert len(found) == 1 and found[0].actor == "discord:7"
    assert await count(db, Event, ticket_id=number) == before + 1


def _fields(args: Args) -> dict[str, object]:
    return {f: getattr(args, f) for f in args.__slots__}


async def test_note_is_never_sent(config: Config, db: Database) -> None:
    number = await open_ticket(db, config, at=NOW)
    await desk(config, db).execute(CLI, "note", Args(ticket=number, text="refund approved by Ana"))
    assert await count(db, OutboxMessage) == 0


async def test_canned_reply_fills_placeholders_and_fits_the_channel(
    config: Config, tmp_path: Path
) -> None:
    db = Database(config.database_url)
    await db.upgrade()
    try:
        number = await open_ticket(db, config, at=NOW, channel="x", author="ann")
        await desk(config, db).execute(CLI, "canned", Args(ticket=number, name="long"))
        [row] = [r for r in await outbox(db) if r.purpose == "agent_reply"]
        assert row.text.startswith("Hi @ann! We are very sorry.")
        assert len(row.text) <= 280 and row.text.endswith("…")  # X's limit
        assert row.channel == "x" and row.in_reply_to is not None
    finally:
        await db.close()


async def test_queue_orders_by_due_time_and_hides_snoozed_tickets(
    config: Config, db: Database
) -> None:
    late = await open_ticket(db, config, at=NOW + timedelta(hours=2), author="b")
    early = await open_ticket(db, config, at=NOW, author="a")
    hidden = await open_ticket(db, config, at=NOW - timedelta(hours=1), author="c")
    clock = ManualClock(NOW + timedelta(hours=3))
    the_desk = desk(config, db, clock)
    await the_desk.execute(CLI, "snooze", Args(ticket=hidden, duration="1d"))

    reply = await the_desk.execute(CLI, "queue", Args())

    assert reply.private
    assert reply.text.index(f"**#{early}**") < reply.text.index(f"**#{late}**")
    assert f"**#{hidden}**" not in reply.text


@pytest.mark.parametrize(
    ("text", "minutes"), [("2h", 120), ("30m", 30), ("1d", 1440), ("1h30m", 90), ("1w", 10080)]
)
def test_snooze_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "2", "two hours", "0h", "31d", "2h-1m"])
def test_bad_snooze_durations_are_refused(text: str) -> None:
    with pytest.raises(UserInputError):
        parse_duration(text)


async def test_mistakes_are_one_line_user_errors(config: Config, db: Database) -> None:
    number = await open_ticket(db, config, at=NOW)
    the_desk = desk(config, db)
    with pytest.raises(NotFound, match="no ticket #999"):
        await the_desk.execute(CLI, "claim", Args(ticket=999))
    with pytest.raises(UserInputError, match="no saved reply 'nope'; known: long"):
        await the_desk.execute(CLI, "canned", Args(ticket=number, name="nope"))
    with pytest.raises(UserInputError, match="label: use complaint or not"):
        await the_desk.execute(CLI, "label", Args(ticket=number, label="angry"))
    with pytest.raises(UserInputError, match="already open"):
        await the_desk.execute(CLI, "reopen", Args(ticket=number))
    await the_desk.execute(CLI, "resolve", Args(ticket=number))
    with pytest.raises(UserInputError, match="already resolved"):
        await the_desk.execute(CLI, "resolve", Args(ticket=number))


async def test_label_correction_is_stored_on_the_first_message(
    config: Config, db: Database
) -> None:
    number = await open_ticket(db, config, at=NOW)
    await desk(config, db).execute(CLI, "label", Args(ticket=number, label="not"))
    async with db.session() as session:
        origin = await session.get(Interaction, (await ticket(db, number)).origin_interaction_id)
    assert origin is not None and origin.agent_label == "not_complaint"


def test_command_list_is_the_only_registry() -> None:
    names = [c.name for c in COMMANDS]
    assert names == [
        "queue", "claim", "assign", "reply", "note", "canned", "snooze", "resolve", "reopen",
        "label",
    ]  # fmt: skip
    assert len(set(names)) == len(names)
    for command in COMMANDS:
        assert all(p.name in Args.__slots__ for p in command.params)
