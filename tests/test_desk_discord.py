"""The agent desk driven through the fake Discord: a real daemon, the real discord.py client,
slash commands and buttons as INTERACTION_CREATE over the gateway, answers on the
interaction callback endpoint. The customer's own platform is a FakeConnector, so a reply
typed in Discord must come out there, in the customer's thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.daemon import Daemon
from bot.desk.service import build_desk
from bot.errors import ConfigError
from connectors.base import ConnectorContext, Kind
from connectors.discord import DiscordConnector, DiscordSettings
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage
from tests.sims.discord_bot import GUARD, TOKEN_ENV, MemoryCursors, settings_for
from tests.sims.discord_interactions import DeskInteractions, Staff
from tests.sims.discord_payloads import Json
from tests.sims.discord_sim import FakeDiscord
from tests.support.desk_kit import ManualClock, count, events, scheduler, ticket
from tests.support.harness import FakeConnector, make_config, message
from tests.support.stub_scorer import StubScorer

SORRY = "Hi {name}, sorry about ticket #{ticket}. {agent} from {company}"


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll state that has no event to wait on; a hang guard, not a timing check."""
    try:
        async with asyncio.timeout(GUARD):
            while not predicate():  # noqa: ASYNC110 - the daemon's tables have no event
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def until(read: Callable[[], Awaitable[Any]], want: Any, what: str) -> None:
    """Poll a database value until it equals ``want``; a hang guard, not a timing check."""
    try:
        async with asyncio.timeout(GUARD):
            while await read() != want:  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def _csat(desk: Desk) -> int | None:
    return (await ticket(desk.db, 1)).csat_score


@dataclass
class Desk:
    sim: FakeDiscord
    discord: DeskInteractions
    staff_channel: int
    other_channel: int
    escalation_role: int
    agent: Staff
    lead: Staff
    outsider: Staff
    fake: FakeConnector
    daemon: Daemon
    config: Config

    @property
    def db(self) -> Database:
        return self.daemon.storage.db

    def cards(self, number: int) -> list[Json]:
        return [
            m
            for m in self.discord.staff_messages(self.staff_channel)
            if any(
                e.get("title", "").startswith(f"Ticket #{number} ")
                for e in m["request"].get("embeds") or []
            )
        ]

    async def card(self, number: int) -> Json:
        await eventually(lambda: bool(self.cards(number)), f"a staff card for ticket #{number}")
        [card] = self.cards(number)
        return card

    def card_fields(self, card: Json) -> dict[str, str]:
        embed = self.discord.embeds[card["id"]][0]
        return {f["name"]: f["value"] for f in embed["fields"]}

    def buttons(self, card: Json) -> list[str]:
        rows = self.discord.components[card["id"]]
        return [c["custom_id"] for row in rows for c in row["components"]]

    def sent_texts(self) -> list[str]:
        return [s.text for s in self.fake.sent]


@pytest.fixture
async def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Desk]:
    sim = FakeDiscord()
    interactions = DeskInteractions(sim)
    support_role = interactions.add_role("Support")
    escalation = interactions.add_role("Escalations")
    await sim.start()
    staff_channel, other = sim.add_channel("staff"), sim.add_channel("general")
    agent = interactions.staff("jess", support_role)
    lead = interactions.staff("lee")  # no role: allowed by user id
    outsider = interactions.staff("mallory")
    monkeypatch.setenv(TOKEN_ENV, sim.token)
    config = make_config(
        tmp_path,
        replies={"company": "Acme"},
        desk={
            "staff": {
                "connector": "discord",
                "channel_id": staff_channel,
                "guild_id": sim.guild_id,
                "escalation_role_id": escalation,
                "sync_seconds": 0.05,
            },
            "agents": {"role_names": ["support"], "user_ids": [lead.id]},
            "canned": {"sorry": SORRY},
            "scheduler": {"enabled": False},  # the tests move the policy clock by hand
        },
    )
    discord = DiscordConnector(settings_for(sim), ConnectorContext("discord", MemoryCursors()))
    fake = FakeConnector()
    daemon = Daemon(
        config,
        connectors=[fake, discord],
        scorer=StubScorer(),
        services=lambda d: [s for s in (build_desk(d),) if s is not None],
    )
    fake.bind(daemon.storage.inbound)
    running = asyncio.create_task(daemon.run(install_signals=False))
    await sim.wait_until(lambda: "claim" in interactions.commands, "slash commands registered")
    env = Desk(
        sim,
        interactions,
        staff_channel,
        other,
        escalation,
        agent,
        lead,
        outsider,
        fake,
        daemon,
        config,
    )
    try:
        yield env
    finally:
        daemon.request_stop()
        # Stopping drains the queue and the outbox; on a loaded CI machine that can take a
        # while. A hang guard, not a timing check.
        await asyncio.wait_for(running, 4 * GUARD)
        await sim.close()


def complaint(text: str = "My blender arrived broken", **kw: Any) -> Any:
    defaults: dict[str, Any] = {"id": "m1", "kind": Kind.DM, "thread": "dm-9", "author": "alice"}
    return message(text, **{**defaults, **kw})


async def test_commands_are_registered_in_the_guild_from_the_command_list(desk: Desk) -> None:
    assert set(desk.discord.commands) == {
        "queue", "claim", "assign", "reply", "note", "canned", "snooze", "resolve", "reopen",
        "label",
    }  # fmt: skip
    assert desk.discord.command_puts == [
        f"/api/v10/applications/{desk.sim.app_id}/guilds/{desk.sim.guild_id}/commands"
    ]
    resolve = desk.discord.commands["resolve"]
    [_, resolution] = resolve["options"]
    assert [c["value"] for c in resolution["choices"]] == ["refund", "replacement", "info", "other"]
    assert resolution["required"] is False


async def test_agent_works_a_ticket_from_the_staff_channel_end_to_end(desk: Desk) -> None:
    desk.fake.push(complaint())
    card = await desk.card(1)
    embed = card["request"]["embeds"][0]
    assert embed["title"] == "Ticket #1 · complaint · high"
    assert "My blender arrived broken" in embed["description"]
    fields = desk.card_fields(card)
    assert fields["Customer"] == "alice on fake (dm)" and fields["Assignee"] == "nobody"
    assert fields["First response due"].startswith("<t:")
    assert card["request"]["allowed_mentions"] == {"parse": []}
    assert desk.buttons(card) == ["desk:claim:1", "desk:snooze:1", "desk:resolve:1"]

    claimed = await desk.discord.slash(desk.agent, desk.staff_channel, "claim", ticket=1)
    assert claimed.content == f"Ticket #1 claimed by <@{desk.agent.id}>." and not claimed.ephemeral
    await eventually(
        lambda: desk.card_fields(card)["Assignee"] == f"<@{desk.agent.id}>", "card edited in place"
    )

    text = "So sorry! A new blender ships today."
    await desk.discord.slash(desk.agent, desk.staff_channel, "reply", ticket=1, text=text)
    await eventually(lambda: text in desk.sent_texts(), "the reply on the customer's platform")
    reply = next(s for s in desk.fake.sent if s.text == text)
    assert (reply.channel, reply.kind, reply.thread, reply.in_reply_to) == (
        "fake", Kind.DM, "dm-9", "m1"
    )  # fmt: skip

    noted = await desk.discord.slash(
        desk.agent, desk.staff_channel, "note", ticket=1, text="VIP: refund the shipping"
    )
    assert "internal, never sent" in noted.content
    assert [e.data["text"] for e in await events(desk.db, 1, "note")] == [
        "VIP: refund the shipping"
    ]

    resolved = await desk.discord.click(
        desk.agent, desk.staff_channel, card["id"], "desk:resolve:1"
    )
    assert resolved.content == "Ticket #1 resolved (other)."
    await eventually(lambda: desk.buttons(card) == ["desk:reopen:1"], "card shows Reopen only")

    # The policy clock asks for satisfaction once; the customer answers in free text.
    await scheduler(desk.config, desk.db, ManualClock(datetime.now(UTC))).tick()
    await eventually(lambda: any("1 (poor)" in t for t in desk.sent_texts()), "CSAT question")
    question = desk.fake.sent[-1]
    assert question.thread == "dm-9" and question.text.startswith("Hi alice, ticket #1 is resolved")
    desk.fake.push(complaint("5, great", id="m2"))
    await until(lambda: _csat(desk), 5, "the CSAT answer recorded")

    reopened = await desk.discord.slash(desk.agent, desk.staff_channel, "reopen", ticket=1)
    assert reopened.content == "Ticket #1 reopened."
    assert (await ticket(desk.db, 1)).status == "open"

    # The note never left; every action is in the ticket's history with its actor.
    assert all("VIP" not in t for t in desk.sent_texts())
    assert await count(desk.db, OutboxMessage, purpose="agent_reply") == 1
    history = [(e.actor, e.type) for e in await events(desk.db, 1)]
    me = f"discord:{desk.agent.id}"
    for step in ("claimed", "agent_reply_queued", "note", "resolved", "reopened"):
        assert (me, step) in history
    assert ("customer", "csat_answered") in history


async def test_people_without_an_agent_role_are_refused_politely_and_logged(desk: Desk) -> None:
    desk.fake.push(complaint())
    await desk.card(1)

    refused = await desk.discord.slash(desk.outsider, desk.staff_channel, "claim", ticket=1)
    elsewhere = await desk.discord.slash(desk.agent, desk.other_channel, "resolve", ticket=1)
    by_id = await desk.discord.slash(desk.lead, desk.staff_channel, "claim", ticket=1)

    assert refused.ephemeral and refused.content.startswith("Sorry, only members of the support")
    assert elsewhere.ephemeral and elsewhere.content == refused.content  # not in the staff channel
    assert by_id.content == f"Ticket #1 claimed by <@{desk.lead.id}>."
    stored = await ticket(desk.db, 1)
    assert stored.assignee == f"discord:{desk.lead.id}" and stored.status == "open"
    refusals = await events(desk.db, kind="command_refused")
    assert [(e.actor, e.data["command"], e.data["ticket"]) for e in refusals] == [
        (f"discord:{desk.outsider.id}", "claim", 1),
        (f"discord:{desk.agent.id}", "resolve", 1),
    ]


async def test_customer_text_never_runs_a_command(desk: Desk) -> None:
    desk.fake.push(complaint())
    await desk.card(1)
    desk.fake.push(complaint("/resolve 1 refund", id="m2"), complaint("/claim 1", id="m3"))
    await until(
        lambda: count(desk.db, Interaction, direction="in", ticket_id=1), 3, "messages processed"
    )

    stored = await ticket(desk.db, 1)
    assert stored.status == "open" and stored.assignee is None
    assert await count(desk.db, Event, type="command_refused") == 0


async def test_canned_assign_snooze_label_and_queue(desk: Desk) -> None:
    desk.fake.push(complaint())
    desk.fake.push(
        complaint("The kettle leaks, broken", id="k1", kind=Kind.MENTION, thread="k1", author="bo")
    )
    await desk.card(1)
    await desk.card(2)

    canned = await desk.discord.slash(
        desk.agent, desk.staff_channel, "canned", ticket=1, name="sorry"
    )
    assert "Saved reply 'sorry' queued on ticket #1" in canned.content
    await eventually(
        lambda: "Hi alice, sorry about ticket #1. Jess from Acme" in desk.sent_texts(), "canned"
    )

    assigned = await desk.discord.slash(
        desk.agent, desk.staff_channel, "assign", ticket=2, agent=desk.lead
    )
    assert assigned.content == f"Ticket #2 assigned to <@{desk.lead.id}>."
    snoozed = await desk.discord.slash(
        desk.agent, desk.staff_channel, "snooze", ticket=1, duration="2h"
    )
    assert "snoozed until" in snoozed.content
    labelled = await desk.discord.slash(
        desk.agent, desk.staff_channel, "label", ticket=2, label="not"
    )
    assert labelled.content == "Ticket #2 labelled not_complaint (was complaint)."
    unknown = await desk.discord.slash(
        desk.agent, desk.staff_channel, "canned", ticket=1, name="nope"
    )
    assert unknown.ephemeral and "no saved reply 'nope'; known: sorry" in unknown.content

    queue = await desk.discord.slash(desk.agent, desk.staff_channel, "queue")
    assert queue.ephemeral
    assert "**#2**" in queue.content and "**#1**" not in queue.content  # #1 is snoozed
    assert (await ticket(desk.db, 2)).assignee == f"discord:{desk.lead.id}"


async def test_sla_breach_pings_the_escalation_role_once_under_the_card(desk: Desk) -> None:
    desk.fake.push(complaint())
    card = await desk.card(1)
    jobs = scheduler(desk.config, desk.db, ManualClock(datetime.now(UTC) + timedelta(days=60)))

    assert (await jobs.tick()).breached == [1]
    assert (await jobs.tick()).breached == []

    def pings() -> list[Json]:
        return [
            m
            for m in desk.discord.staff_messages(desk.staff_channel)
            if m["content"].startswith(f"<@&{desk.escalation_role}>")
        ]

    await eventually(lambda: bool(pings()), "the breach notice")
    [ping] = pings()
    assert "SLA breached: ticket #1" in ping["content"]
    assert ping["request"]["allowed_mentions"]["roles"] == [desk.escalation_role]
    assert ping["request"]["message_reference"]["message_id"] == int(card["id"])
    await eventually(
        lambda: "BREACHED" in desk.card_fields(card)["First response due"], "card shows breach"
    )


async def test_staff_channel_read_as_a_customer_channel_is_a_config_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, desk={"staff": {"connector": "discord", "channel_id": 555}})
    discord = DiscordConnector(
        DiscordSettings(token_env=TOKEN_ENV, channel_ids=(555,)),
        ConnectorContext("discord", MemoryCursors()),
    )
    with pytest.raises(ConfigError, match=r"also in connectors\.discord\.channel_ids"):
        Daemon(config, connectors=[discord], services=lambda d: [s for s in (build_desk(d),) if s])
    with pytest.raises(ConfigError, match="no such enabled connector"):
        Daemon(config, connectors=[], services=lambda d: [s for s in (build_desk(d),) if s])
