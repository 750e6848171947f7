"""Cursors: restart and ``run --once`` resume exactly where the stored cursors say."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from connectors.discord import DiscordSettings
from connectors.discord.tracker import (
    CURSOR_VALUE_MAX,
    ChannelTracker,
    decode_dms,
    encode_dms,
    snowflake_at,
)
from tests.sims.discord_bot import Launcher, MemoryCursors, launch, sim
from tests.sims.discord_sim import FakeDiscord
from tests.support.shared import REPO

__all__ = ["launch", "sim"]


@pytest.fixture
def support(sim: FakeDiscord) -> int:
    return sim.add_channel("support")


async def test_restart_resumes_from_the_committed_cursor(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    alice = sim.add_user("alice")
    cursors = MemoryCursors()
    first = launch(cursors, channel_ids=(support,))
    first.start()
    await first.ready()
    seen = await sim.post(support, alice, "before the restart", mention_bot=True)
    await first.next()
    await first.stop()  # the daemon stops
    assert cursors.values[("discord", f"channel:{support}")] == seen["id"]

    missed = await sim.post(support, alice, "while the daemon was down", mention_bot=True)
    second = launch(cursors, channel_ids=(support,))
    second.start()
    item = await second.next()
    await second.ready()

    assert item.external_id == missed["id"]
    assert second.pending() == []


async def test_once_mode_yields_the_backlog_and_returns_without_a_gateway(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    bob = sim.add_user("bob")
    old = await sim.post(support, bob, "already stored", mention_bot=True)
    old_dm = await sim.dm(bob, "an old DM, already stored")
    dm_channel = int(old_dm["channel_id"])
    cursors = MemoryCursors()
    cursors.values[("discord", f"channel:{support}")] = old["id"]
    cursors.values[("discord", "dms")] = f"{dm_channel}:{old_dm['id']}"
    new = [
        await sim.post(support, bob, "new mention", mention_bot=True),
        await sim.post(support, bob, "chatter, not for us"),
        await sim.dm(bob, "new DM"),
        await sim.post(support, bob, "second new mention", mention_bot=True),
    ]

    running = launch(cursors, channel_ids=(support,))
    running.start(follow=False)
    await running.finished()

    assert running.error is None
    assert [i.external_id for i in running.received] == [new[0]["id"], new[3]["id"], new[2]["id"]]
    assert sim.identifies == 0  # REST only: `socialbot run --once` opens no gateway
    assert cursors.values[("discord", f"channel:{support}")] == new[3]["id"]
    assert decode_dms(cursors.values[("discord", "dms")]) == {dm_channel: int(new[2]["id"])}


@pytest.mark.parametrize(("lookback", "expected"), [(0, 0), (60, 1)])
async def test_first_start_looks_back_only_as_configured(
    sim: FakeDiscord,
    support: int,
    launch: Launcher,
    lookback: int,
    expected: int,
) -> None:
    ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
    await sim.post(
        support, sim.add_user("carol"), "before we ran", mention_bot=True, at=ten_minutes_ago
    )
    running = launch(channel_ids=(support,), first_start_lookback_minutes=lookback)
    running.start(follow=False)
    await running.finished()

    assert len(running.received) == expected


async def test_mentions_everywhere_accepts_unwatched_channels_without_a_cursor(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    lounge = sim.add_channel("lounge")
    running = launch(channel_ids=(support,), mentions_everywhere=True)
    running.start()
    await running.ready()
    posted = await sim.post(lounge, sim.add_user("dave"), "psst", mention_bot=True)

    item = await running.next()

    assert item.external_id == posted["id"] and item.cursor is None


# -- the tracker on its own -------------------------------------------------------------


def test_live_messages_in_a_gap_never_move_the_cursor() -> None:
    tracker = ChannelTracker(watched=(10,), dm_slots=5)
    tracker.load(10, 100)
    tracker.synced(10, tracker.generation)
    tracker.advance(10, 110, from_history=False)
    assert tracker.cursor_for(10) is not None and tracker.cursor_for(10).value == "110"  # type: ignore[union-attr]

    tracker.lost()  # disconnect: 120 and 130 are said while we are away
    tracker.advance(10, 140, from_history=False)  # first live message after reconnect
    assert tracker.cursor_for(10).value == "110"  # type: ignore[union-attr]
    assert tracker.backfill_targets() == [10]

    tracker.advance(10, 120, from_history=True)
    tracker.advance(10, 130, from_history=True)
    tracker.advance(10, 140, from_history=True)
    tracker.synced(10, tracker.generation)
    assert tracker.cursor_for(10).value == "140"  # type: ignore[union-attr]
    assert tracker.backfill_targets() == []


def test_a_backfill_that_straddles_a_disconnect_does_not_count() -> None:
    tracker = ChannelTracker(watched=(10,), dm_slots=5)
    tracker.load(10, 100)
    started = tracker.generation
    tracker.lost()
    tracker.synced(10, started)
    assert tracker.backfill_targets() == [10]


def test_dm_cursor_round_trips_and_fits_the_column() -> None:
    positions = {1000 + i: 10**18 + i for i in range(40)}
    encoded = encode_dms(positions)
    assert len(encoded) <= CURSOR_VALUE_MAX
    decoded = decode_dms(encoded)
    assert list(decoded.items()) == list(positions.items())[-len(decoded) :]  # newest kept
    assert decode_dms("12:34,garbage,:5,56:78") == {12: 34, 56: 78}
    assert decode_dms(None) == {}


def test_dm_channels_beyond_the_slots_are_forgotten_oldest_first() -> None:
    tracker = ChannelTracker(watched=(), dm_slots=2)
    for channel in (1, 2, 3):
        tracker.new_dm(channel, 50)
    assert not tracker.is_known(1) and tracker.is_dm(2) and tracker.is_dm(3)


def test_each_message_id_is_offered_once() -> None:
    tracker = ChannelTracker(watched=(), dm_slots=1, seen_window=2)
    assert tracker.first_time(1) and not tracker.first_time(1)
    assert tracker.first_time(2) and tracker.first_time(3)
    assert tracker.first_time(1)  # fell out of the bounded window


def test_snowflake_at_orders_like_discord_ids() -> None:
    now = datetime.now(UTC)
    assert snowflake_at(now - timedelta(minutes=1)) < snowflake_at(now)
    assert snowflake_at(datetime(2015, 1, 1, tzinfo=UTC)) == 0


def test_settings_reject_bad_values() -> None:
    with pytest.raises(ValidationError, match="api_base"):
        DiscordSettings(api_base="ftp://example")
    with pytest.raises(ValidationError, match="gateway_url"):
        DiscordSettings(gateway_url="http://example")
    with pytest.raises(ValidationError, match="without TLS"):
        DiscordSettings(api_base="http://proxy.example/api/v10")  # the token would leak
    assert DiscordSettings(gateway_url="wss://proxy.example/").gateway_url
    with pytest.raises(ValidationError, match="token"):
        DiscordSettings(token="do-not-put-secrets-here")  # type: ignore[call-arg]
    parsed = DiscordSettings(channel_ids=["123", 456])
    assert parsed.channel_ids == (123, 456)


def test_the_documented_example_section_is_valid() -> None:
    example = REPO / "docs" / "connectors" / "discord.example.toml"
    section = tomllib.loads(example.read_text(encoding="utf-8"))["connectors"]["discord"]
    settings = DiscordSettings.model_validate(section)
    assert settings.channel_ids == (123456789012345678,)
    assert set(DiscordSettings.model_fields) - set(section) <= {"type", "api_base", "gateway_url"}


async def test_once_mode_twice_in_one_process_reads_only_what_is_new(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    ivan = sim.add_user("ivan")
    first = await sim.post(support, ivan, "one", mention_bot=True)
    running = launch(channel_ids=(support,))
    running.start(follow=False)
    await running.finished()
    second = await sim.post(support, ivan, "two", mention_bot=True)

    running.start(follow=False)  # e.g. the daemon retrying --once: no gateway in between
    await running.finished()

    assert [i.external_id for i in running.received] == [first["id"], second["id"]]


async def test_a_wrong_channel_id_is_reported_and_skipped(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    posted = await sim.post(support, sim.add_user("judy"), "still read", mention_bot=True)
    running = launch(channel_ids=(424242, support))
    running.start(follow=False)
    await running.finished()

    assert running.error is None
    assert [i.external_id for i in running.received] == [posted["id"]]
    health = running.connector.health()
    assert health.state == "degraded" and "424242" in (health.last_error or "")
