"""The real daemon, built from config through the entry point, against the Reddit simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.daemon import Daemon
from bot.stats import RunStats
from storage.models import Interaction, OutboxMessage
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_testkit import ENV
from tests.support.harness import count_rows, make_config
from tests.support.stub_scorer import StubScorer


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RedditSim]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    async with RedditSim() as running:
        yield running


def reddit_config(tmp_path: Path, sim: RedditSim, **settings: Any) -> Config:
    section = {
        "username": sim.state.username,
        "user_agent": "test:socialbot:0.1 (by u/brand_support)",
        "oauth_url": sim.url,
        "reddit_url": sim.url,
        "request_timeout": 2.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        **settings,
    }
    return make_config(tmp_path, connectors={"reddit": section})


async def run_once(config: Config) -> RunStats:
    return await Daemon(config, scorer=StubScorer()).run(once=True, install_signals=False)


async def test_daemon_acknowledges_a_mention_and_a_message_in_their_threads(
    tmp_path: Path, sim: RedditSim
) -> None:
    mention = sim.add_inbox("username_mention", "alice", "u/brand_support my order never arrived")
    dm = sim.add_inbox("message", "bob", "my parcel is lost, refund please")
    ours = sim.add_inbox("comment_reply", sim.state.username, "our own words, never answered")
    config = reddit_config(tmp_path, sim)

    stats = await run_once(config)

    assert sorted(s["thing_id"] for s in sim.sent) == sorted([mention, dm])
    assert sim.unread() == []  # marked read once stored
    assert stats.tickets_opened == 2
    assert await count_rows(config, Interaction, external_id=ours, status="ignored") == 1
    assert await count_rows(config, OutboxMessage, status="sent") == 2


async def test_second_run_acknowledges_only_the_new_message(tmp_path: Path, sim: RedditSim) -> None:
    first = sim.add_inbox("username_mention", "carol", "the app is broken")
    config = reddit_config(tmp_path, sim)
    await run_once(config)
    second = sim.add_inbox("username_mention", "dave", "still broken, never fixed")

    stats = await run_once(config)

    assert [s["thing_id"] for s in sim.sent] == [first, second]
    assert stats.duplicates == 0 and stats.read == 1
    assert await count_rows(config, OutboxMessage, purpose="ack") == 2


async def test_two_customers_under_one_post_are_both_acknowledged(
    tmp_path: Path, sim: RedditSim
) -> None:
    alice = sim.add_inbox("post_reply", "alice", "the update is broken", link_id="t3_launch")
    bob = sim.add_inbox("post_reply", "bob", "broken for me too", link_id="t3_launch")
    alice_again = sim.add_inbox("comment_reply", "alice", "still broken", link_id="t3_launch")
    config = reddit_config(tmp_path, sim)

    await run_once(config)

    acked = [s["thing_id"] for s in sim.sent]
    assert alice in acked and bob in acked
    assert alice_again not in acked  # same customer, same post: within the ack cool-down
