"""Gateway trouble loses nothing: drops, RESUME with replay, INVALID_SESSION, re-IDENTIFY.

discord.py waits 5 s before every re-IDENTIFY (Discord's identify rate limit), so the
tests that force one take a few seconds; none of them asserts a duration.
"""

from __future__ import annotations

import pytest

from bot.errors import AuthError
from tests.sims.discord_bot import Launcher, Running, launch, sim
from tests.sims.discord_sim import FakeDiscord

__all__ = ["launch", "sim"]


@pytest.fixture
def support(sim: FakeDiscord) -> int:
    return sim.add_channel("support")


@pytest.fixture
async def bot(support: int, launch: Launcher) -> Running:
    running = launch(channel_ids=(support,))
    running.start()
    await running.ready()
    return running


def ids(bot: Running) -> list[str]:
    return [item.external_id for item in bot.received]


async def test_messages_said_while_disconnected_come_from_history(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    alice = sim.add_user("alice")
    before = await sim.post(support, alice, "first", mention_bot=True)
    await bot.next()
    await sim.dm(alice, "a DM before the outage")
    await bot.next()

    sim.expire_sessions()  # RESUME will fail: only history can bring the gap back
    await sim.drop_gateway(hold=True)
    await sim.wait_until(lambda: sim.live_sessions() == 0, "bot disconnected")
    assert bot.connector.health().state == "degraded"
    gap = [
        await sim.post(support, alice, "said while the bot was away", mention_bot=True),
        await sim.post(support, alice, "not for the bot"),
        await sim.dm(alice, "a DM while the bot was away"),
        await sim.post(support, alice, "another one", mention_bot=True),
    ]
    sim.release_gateway()

    got = [await bot.next(), await bot.next(), await bot.next()]
    await bot.ready()

    assert sorted(i.external_id for i in got) == sorted([gap[0]["id"], gap[2]["id"], gap[3]["id"]])
    assert bot.pending() == []
    assert len(ids(bot)) == len(set(ids(bot))) == 5
    assert sim.resumes >= 1 and sim.identifies == 2
    assert bot.connector.health().state == "ok"
    # the cursor moved past the gap only once history filled it
    stored = bot.cursors.values[("discord", f"channel:{support}")]
    assert int(stored) == int(gap[3]["id"]) > int(before["id"])


async def test_resume_replays_missed_events_once(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    bob = sim.add_user("bob")
    await sim.drop_gateway(hold=True)
    await sim.wait_until(lambda: sim.live_sessions() == 0, "bot disconnected")
    missed = await sim.post(support, bob, "during the blip", mention_bot=True)
    sim.release_gateway()

    item = await bot.next()
    await bot.ready()  # RESUMED arrived and the backfill after it read the same message

    assert item.external_id == missed["id"]
    assert bot.pending() == []
    assert sim.identifies == 1 and sim.resumes == 1


async def test_invalid_session_reidentifies_and_backfills(
    sim: FakeDiscord, support: int, bot: Running
) -> None:
    carol = sim.add_user("carol")
    await sim.invalidate_session()
    lost_live = await sim.post(support, carol, "right after the invalid session", mention_bot=True)

    item = await bot.next()
    await bot.ready()

    assert item.external_id == lost_live["id"]
    assert bot.pending() == []
    assert sim.identifies == 2


async def test_dm_in_a_new_channel_during_an_outage_is_backfilled(
    sim: FakeDiscord, bot: Running
) -> None:
    dana = sim.add_user("dana")
    sim.expire_sessions()
    await sim.drop_gateway(hold=True)
    await sim.wait_until(lambda: sim.live_sessions() == 0, "bot disconnected")
    while_away = await sim.dm(dana, "hello? anyone there?")  # a DM channel the bot never saw
    sim.release_gateway()
    await bot.ready()
    live = await sim.dm(dana, "second try")

    got = {(await bot.next()).external_id, (await bot.next()).external_id}
    await bot.ready()

    assert got == {while_away["id"], live["id"]}
    assert bot.pending() == []


async def test_gateway_refusing_the_token_stops_listen_with_auth_error(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    sim.gateway_token = "revoked"  # REST still accepts the token, IDENTIFY does not (4004)
    running = launch(channel_ids=(support,))
    running.start()

    await running.finished()

    assert isinstance(running.error, AuthError)
    health = running.connector.health()
    assert health.state == "down" and health.token_valid is False
    assert "4004" in (health.last_error or "")


async def test_listen_works_again_after_a_fatal_failure_is_fixed(
    sim: FakeDiscord, support: int, launch: Launcher
) -> None:
    sim.gateway_token = "revoked"
    running = launch(channel_ids=(support,))
    running.start()
    await running.finished()
    assert isinstance(running.error, AuthError)

    sim.gateway_token = sim.token  # the operator fixed the token; the daemon retries
    running.start()
    await sim.wait_until(lambda: sim.live_sessions() == 1, "a new gateway session")
    await running.ready()
    posted = await sim.post(support, sim.add_user("erin"), "hello again", mention_bot=True)

    assert (await running.next()).external_id == posted["id"]
    assert running.connector.health().state == "ok"
