"""The real discord.py client, through DiscordConnector, against the loopback fake Discord."""

from __future__ import annotations

import pytest

from connectors.base import Kind, Outbound
from tests.sims.discord_bot import Launcher, Running, launch, sim
from tests.sims.discord_sim import FakeDiscord

__all__ = ["launch", "sim"]  # the fixture, re-exported for pytest


@pytest.fixture
def support(sim: FakeDiscord) -> int:
    """The watched guild channel."""
    return sim.add_channel("support")


@pytest.fixture
async def bot(support: int, launch: Launcher) -> Running:
    running = launch(channel_ids=(support,))
    running.start()
    await running.ready()
    return running


def reply_to(item_kind: Kind, thread: str, external_id: str, author_id: str, text: str) -> Outbound:
    return Outbound(
        channel="discord",
        kind=item_kind,
        thread=thread,
        text=text,
        in_reply_to=external_id,
        recipient_id=author_id,
        idempotency_key=f"outbox-{external_id}",
    )


async def test_mention_is_received_once_and_answered_as_a_reply(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    alice = sim.add_user("alice")
    posted = await sim.post(support, alice, "my order #123 never arrived", mention_bot=True)

    item = await bot.next()
    assert item.kind is Kind.MENTION
    assert item.external_id == posted["id"]
    assert item.thread == str(support)
    assert item.text == "my order #123 never arrived"  # our own <@id> stripped
    assert item.author.handle == "alice" and not item.author.is_bot and not item.author.is_self
    assert item.meta["guild_id"] == str(sim.guild_id)
    assert (
        item.url == f"https://discord.com/channels/{sim.guild_id}/{item.thread}/{item.external_id}"
    )

    ref = await bot.connector.send(
        reply_to(
            item.kind, item.thread, item.external_id, item.author.id, "Sorry! Looking into it."
        )
    )

    assert len(sim.sent) == 1
    sent = sim.sent[0]
    assert sent["id"] == ref.external_id
    assert sent["channel_id"] == str(support)
    assert sent["request"]["message_reference"]["message_id"] == int(posted["id"])
    assert sent["request"]["allowed_mentions"] == {"replied_user": True, "parse": []}
    # our own reply comes back on the gateway but does not address us: nothing new
    await sim.wait_until(lambda: len(sim.history[support]) == 2, "reply stored")
    await bot.ready()
    assert bot.pending() == []
    assert [i.external_id for i in bot.received] == [posted["id"]]


async def test_dm_is_received_once_and_answered_in_the_dm(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    bob = sim.add_user("bob")
    posted = await sim.dm(bob, "where is my refund?")

    item = await bot.next()
    assert item.kind is Kind.DM
    assert item.external_id == posted["id"]
    assert item.thread == posted["channel_id"]
    assert item.url is not None and "/channels/@me/" in item.url

    await bot.connector.send(
        reply_to(Kind.DM, item.thread, item.external_id, item.author.id, "We got your message.")
    )

    assert [m["channel_id"] for m in sim.sent] == [posted["channel_id"]]
    # no users/@me/channels call: the DM channel was learnt from the inbound message
    assert not any(path == "/users/@me/channels" for _, path in sim.requests)
    # Discord echoes our own DM on the gateway: the outbox logged it already, not offered
    await sim.wait_until(lambda: len(sim.history[int(item.thread)]) == 2, "reply stored")
    await bot.ready()
    assert bot.pending() == []
    assert [i.external_id for i in bot.received] == [posted["id"]]


async def test_dm_reply_opens_the_dm_channel_when_unknown(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    carol = sim.add_user("carol")
    posted = await sim.post(support, carol, "hi", mention_bot=True)
    item = await bot.next()

    await bot.connector.send(
        Outbound(
            channel="discord",
            kind=Kind.DM,
            thread=item.thread,  # a guild channel: the DM goes to the person instead
            text="How did we do? Reply 1-5.",
            in_reply_to=posted["id"],
            recipient_id=item.author.id,
            idempotency_key="csat-1",
        )
    )

    assert ("POST", "/users/@me/channels") in sim.requests
    assert sim.sent[0]["channel_id"] == str(sim.dm_of_user[int(carol["id"])])
    assert "message_reference" not in sim.sent[0]["request"]  # not the same channel


async def test_bot_authors_are_flagged_and_non_mentions_ignored(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    other_bot = sim.add_user("statusbot", bot=True)
    dave = sim.add_user("dave")
    elsewhere = sim.add_channel("random")
    await sim.post(support, dave, "just chatting, no mention")
    await sim.post(elsewhere, dave, "unwatched channel", mention_bot=True)
    from_bot = await sim.post(support, other_bot, "deploy finished", mention_bot=True)

    item = await bot.next()
    assert item.external_id == from_bot["id"]
    assert item.author.is_bot and not item.author.is_self
    await bot.ready()
    assert bot.pending() == []


async def test_reply_to_our_message_counts_as_addressing_us(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    erin = sim.add_user("erin")
    await sim.post(support, erin, "help", mention_bot=True)
    first = await bot.next()
    await bot.connector.send(
        reply_to(first.kind, first.thread, first.external_id, first.author.id, "On it")
    )
    follow_up = await sim.post(support, erin, "thanks, any news?", reply_to=sim.sent[0])

    item = await bot.next()
    assert item.external_id == follow_up["id"]
    assert item.kind is Kind.MENTION


async def test_long_reply_is_trimmed_to_discords_limit(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    frank = sim.add_user("frank")
    await sim.post(support, frank, "hello", mention_bot=True)
    item = await bot.next()

    await bot.connector.send(
        reply_to(item.kind, item.thread, item.external_id, item.author.id, "x" * 2500)
    )

    content = sim.sent[0]["content"]
    assert len(content) == bot.connector.max_length == 2000
    assert content.endswith("…")


async def test_find_sent_recognises_a_reply_posted_before_a_crash(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    gina = sim.add_user("gina")
    await sim.post(support, gina, "order?", mention_bot=True)
    item = await bot.next()
    ack = reply_to(item.kind, item.thread, item.external_id, item.author.id, "Thanks, we're on it.")
    other = reply_to(item.kind, item.thread, item.external_id, item.author.id, "A different reply")

    assert await bot.connector.find_sent(ack) is None
    ref = await bot.connector.send(ack)

    found = await bot.connector.find_sent(ack)
    assert found is not None and found.external_id == ref.external_id
    assert await bot.connector.find_sent(other) is None  # same message answered, other text


async def test_a_guild_message_from_an_uncached_guild_is_not_taken_for_a_dm(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    posted = await sim.post(support, sim.add_user("hank"), "stored first", mention_bot=True)
    await bot.next()
    event = {**sim.message_create(posted), "id": str(sim.ids.next()), "guild_id": "42"}

    await sim.dispatch("MESSAGE_CREATE", event)  # a guild discord.py has no cache for

    item = await bot.next()
    assert item.external_id == event["id"]
    assert item.kind is Kind.MENTION and item.meta["guild_id"] == "42"
