"""Reddit inbox and subreddit listening: real praw against the loopback simulator."""

from __future__ import annotations

import logging

import pytest

from connectors.base import Kind
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_testkit import MemoryCursors, drain, make_connector, reddit_env, sim

__all__ = ["reddit_env", "sim"]  # fixtures

pytestmark = pytest.mark.usefixtures("reddit_env")


async def test_inbox_items_arrive_once_with_author_thread_and_kind(sim: RedditSim) -> None:
    mention = sim.add_inbox("username_mention", "alice", "u/brand_support my parcel is lost")
    dm = sim.add_inbox("message", "bob", "refund please", subject="order 42")
    reply = sim.add_inbox("comment_reply", "carol", "still broken", link_id="t3_post1")
    post_reply = sim.add_inbox("post_reply", "dave", "same here", link_id="t3_post2")
    connector = make_connector(sim)
    await connector.connect()

    first = await drain(connector)
    second = await drain(connector)

    by_id = {item.external_id: item for item in first}
    assert [item.external_id for item in first] == [mention, dm, reply, post_reply]  # oldest first
    assert second == []
    assert (by_id[mention].kind, by_id[mention].author.handle) == (Kind.MENTION, "alice")
    assert by_id[mention].text == "u/brand_support my parcel is lost"
    assert (by_id[dm].kind, by_id[dm].thread, by_id[dm].author.handle) == (Kind.DM, dm, "bob")
    assert (by_id[reply].kind, by_id[reply].thread) == (Kind.COMMENT, "t3_post1:carol")
    assert by_id[post_reply].thread == "t3_post2:dave"
    assert by_id[post_reply].meta["reddit_type"] == "post_reply"
    assert all(item.channel == "reddit" and item.cursor is None for item in first)
    assert all(item.created_at.tzinfo is not None for item in first)
    await connector.close()


async def test_each_customer_under_a_post_has_their_own_thread(sim: RedditSim) -> None:
    first = sim.add_inbox("post_reply", "alice", "broken", link_id="t3_launch")
    again = sim.add_inbox("comment_reply", "Alice", "still broken", link_id="t3_launch")
    other = sim.add_inbox("post_reply", "bob", "mine too", link_id="t3_launch")
    connector = make_connector(sim)
    await connector.connect()

    threads = {i.external_id: i.thread for i in await drain(connector)}

    assert threads[first] == threads[again] == "t3_launch:alice"
    assert threads[other] == "t3_launch:bob"
    await connector.close()


async def test_marked_read_only_after_committed(sim: RedditSim) -> None:
    first = sim.add_inbox("username_mention", "alice", "hello")
    second = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim)
    await connector.connect()

    items = await drain(connector, commit=False)
    unread_after_listen = sim.unread()
    await connector.committed(items[0])
    await drain(connector, commit=False)  # the next pass sends the marks that are due
    unread_after_one = sim.unread()
    await connector.committed(items[1])
    await connector.close()  # close sends what is still waiting

    assert [i.external_id for i in items] == [first, second]
    assert unread_after_listen == [first, second]  # listened, not stored yet: still unread
    assert unread_after_one == [second]
    assert sim.unread() == []
    assert [f["id"] for p, f in sim.state.forms if "read_message" in p] == [first, second]


async def test_marks_are_batched_25_per_request(sim: RedditSim) -> None:
    names = [sim.add_inbox("username_mention", f"u{i}", f"hello {i}") for i in range(60)]
    connector = make_connector(sim)
    await connector.connect()

    items = await drain(connector)

    assert [i.external_id for i in items] == names
    assert sim.unread() == []
    batches = [f["id"].split(",") for p, f in sim.state.forms if "read_message" in p]
    assert [len(b) for b in batches] == [25, 25, 10]
    await connector.close()


async def test_items_not_yet_committed_are_not_yielded_twice_in_one_run(sim: RedditSim) -> None:
    name = sim.add_inbox("username_mention", "alice", "hello")
    connector = make_connector(sim)
    await connector.connect()

    first = await drain(connector, commit=False)
    again = await drain(connector, commit=False)

    assert [i.external_id for i in first] == [name]
    assert again == []
    await connector.close()


async def test_restart_brings_back_what_was_not_committed(sim: RedditSim) -> None:
    names = [sim.add_inbox("message", f"user{i}", f"message {i}") for i in range(3)]
    connector = make_connector(sim)
    await connector.connect()
    items = await drain(connector, commit=False)
    await connector.committed(items[0])  # the daemon stored one, then crashed
    await connector.close()

    restarted = make_connector(sim)
    await restarted.connect()
    resumed = await drain(restarted)

    assert [i.external_id for i in resumed] == names[1:]
    assert sim.unread() == []
    await restarted.close()


async def test_own_posts_are_self_and_automoderator_is_a_bot(sim: RedditSim) -> None:
    own = sim.add_inbox("comment_reply", "Brand_Support", "our own words")
    bot = sim.add_inbox("post_reply", "AutoModerator", "rule 3 reminder")
    extra = sim.add_inbox("username_mention", "helper_bot", "ping")
    human = sim.add_inbox("username_mention", "alice", "help")
    connector = make_connector(sim, known_bots=("AutoModerator", "helper_bot"))
    await connector.connect()

    by_id = {i.external_id: i.author for i in await drain(connector)}

    assert by_id[own].is_self and not by_id[own].is_bot
    assert by_id[bot].is_bot and by_id[extra].is_bot and not by_id[bot].is_self
    assert not by_id[human].is_self and not by_id[human].is_bot
    await connector.close()


async def test_feature_switches_leave_other_items_unread(sim: RedditSim) -> None:
    mention = sim.add_inbox("username_mention", "alice", "hello")
    dm = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim, mentions=False)
    await connector.connect()

    items = await drain(connector)

    assert [i.external_id for i in items] == [dm]
    assert sim.unread() == [mention]
    await connector.close()


async def test_malformed_item_is_logged_and_skipped(
    sim: RedditSim, caplog: pytest.LogCaptureFixture
) -> None:
    before = sim.add_inbox("username_mention", "alice", "first")
    sim.add_raw_inbox({"kind": "t1", "data": {"id": "zz1", "name": "t1_zz1"}}, "t1_zz1")
    sim.add_raw_inbox({"kind": "t1", "data": "not an object"}, "junk")
    after = sim.add_inbox("message", "bob", "second")
    connector = make_connector(sim)
    await connector.connect()

    with caplog.at_level(logging.WARNING, logger="connectors.reddit"):
        items = await drain(connector)
        await drain(connector)  # the bad items are still unread: logged once only

    assert {i.external_id for i in items} == {before, after}
    skipped = [r for r in caplog.records if "malformed item" in r.getMessage()]
    assert len(skipped) == 2
    assert "t1_zz1" in skipped[0].getMessage() or "t1_zz1" in skipped[1].getMessage()
    assert connector.health().errors == 2
    await connector.close()


async def test_large_backlog_is_paged_through(sim: RedditSim) -> None:
    names = [sim.add_inbox("username_mention", f"u{i}", f"mention {i}") for i in range(25)]
    connector = make_connector(sim, page_size=10)
    await connector.connect()

    items = await drain(connector)

    assert [i.external_id for i in items] == names
    assert sim.calls("/message/unread", "GET") == 3
    await connector.close()


async def test_subreddit_keywords_and_cursor_resume(sim: RedditSim) -> None:
    cursors = MemoryCursors()
    hit = sim.add_subreddit("gadgets", "comments", "erin", "my Acme phone died")
    sim.add_subreddit("gadgets", "comments", "frank", "unrelated chat about acmeology")
    post = sim.add_subreddit("gadgets", "new", "gina", "ACME support?", selftext="anyone?")
    settings = {"subreddits": ("r/gadgets",), "keywords": ("acme",), "inbox": False}
    connector = make_connector(sim, cursors, **settings)
    await connector.connect()

    items = await drain(connector, cursors)
    await connector.close()
    later = sim.add_subreddit("gadgets", "comments", "hank", "acme, again")
    restarted = make_connector(sim, cursors, **settings)
    await restarted.connect()
    resumed = await drain(restarted, cursors)

    assert [(i.external_id, i.kind) for i in items] == [(hit, Kind.COMMENT), (post, Kind.MENTION)]
    assert items[1].text == "ACME support?\n\nanyone?"
    assert items[0].thread.startswith("t3_") and items[0].thread.endswith(":erin")
    assert items[1].thread == f"{post}:gina"
    assert items[0].cursor is not None and items[0].cursor.key == "r/gadgets/comments"
    assert [i.external_id for i in resumed] == [later]
    assert cursors.values[("reddit", "r/gadgets/comments")] == later
    await restarted.close()


async def test_subreddit_first_start_ignores_old_history(sim: RedditSim) -> None:
    sim.add_subreddit("gadgets", "comments", "old", "acme long ago", created_utc=1_000_000.0)
    fresh = sim.add_subreddit("gadgets", "comments", "new", "acme today")
    connector = make_connector(sim, subreddits=("gadgets",), inbox=False, first_start_lookback=60)
    await connector.connect()

    items = await drain(connector)

    assert [i.external_id for i in items] == [fresh]
    await connector.close()
