"""The real daemon, built from config through the entry point, against the X simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.config import Config
from bot.daemon import Daemon
from bot.stats import RunStats
from storage.models import Interaction, OutboxMessage
from tests.sims.x_fixture import sim
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import FAST
from tests.support.harness import count_rows, make_config
from tests.support.stub_scorer import StubScorer

__all__ = ["sim"]  # the fixture, re-exported for pytest


def x_config(tmp_path: Path, sim: XSim, **settings: Any) -> Config:
    section = {"api_base_url": sim.base_url, "user_id": sim.state.our_id, **FAST, **settings}
    return make_config(tmp_path, connectors={"x": section})


async def run_once(config: Config) -> RunStats:
    daemon = Daemon(config, scorer=StubScorer())
    return await daemon.run(once=True, install_signals=False)


async def test_daemon_acknowledges_a_mention_and_a_dm_in_their_threads(
    tmp_path: Path, sim: XSim
) -> None:
    mention = sim.state.add_mention("alice", "my order never arrived")
    dm = sim.state.add_dm("bob", "my parcel is lost, refund please")
    ours = sim.state.add_tweet(sim.state.our_id, f"@{sim.state.our_username} test post")
    config = x_config(tmp_path, sim)

    stats = await run_once(config)

    tweets = [s for s in sim.sent if s["type"] == "tweet"]
    dms = [s for s in sim.sent if s["type"] == "dm"]
    assert [t["in_reply_to_tweet_id"] for t in tweets] == [mention.id]
    assert [d["dm_conversation_id"] for d in dms] == [dm.conversation_id]
    assert dms[0]["participant_id"] == sim.state.by_username("bob")["id"]
    assert stats.tickets_opened == 2
    assert await count_rows(config, Interaction, external_id=ours.id, status="ignored") == 1
    assert await count_rows(config, OutboxMessage, status="sent") == 2


async def test_second_run_resumes_from_the_stored_cursor_and_acks_nothing_twice(
    tmp_path: Path, sim: XSim
) -> None:
    first = sim.state.add_mention("carol", "the app is broken")
    config = x_config(tmp_path, sim, dms=False)
    await run_once(config)
    second = sim.state.add_mention("dave", "still broken, never fixed")

    stats = await run_once(config)

    assert [s["in_reply_to_tweet_id"] for s in sim.sent] == [first.id, second.id]
    assert stats.duplicates == 0 and stats.read == 1  # since_id came from the database
    assert await count_rows(config, OutboxMessage, purpose="ack") == 2
