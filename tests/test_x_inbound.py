"""Mentions, searches and DMs reach the daemon once, in order, with the right author and thread."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import Kind
from connectors.x.parse import TWITTER_EPOCH_MS
from connectors.x.polling import search_key
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import Store, drain, make_connector


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> XSim:
    async with XSim() as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


async def test_mentions_arrive_once_with_author_and_thread(sim: XSim) -> None:
    root = sim.state.add_mention("alice", "where is my parcel? & why <so> slow")
    reply = sim.state.add_tweet("bob", f"@{sim.state.our_username} same here", in_reply_to=root.id)
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()

    first = await drain(connector, store)
    again = await drain(connector, store)

    assert [i.external_id for i in first] == [root.id, reply.id]
    assert again == []
    alice, bob = first
    assert alice.kind is Kind.MENTION and alice.channel == "x"
    assert (alice.author.handle, alice.author.id) == ("alice", sim.state.by_username("alice")["id"])
    assert alice.text.endswith("& why <so> slow")  # X's &amp; &lt; are undone
    assert alice.thread == root.id and bob.thread == root.id  # one conversation
    assert bob.author.handle == "bob" and bob.meta["in_reply_to_user_id"] == alice.author.id
    assert alice.cursor is not None and alice.cursor.key == "mentions"
    assert alice.created_at.tzinfo is UTC
    assert not alice.author.is_self and not alice.author.is_bot
    assert connector.health().state == "ok" and connector.health().token_valid is True
    assert connector.health().rate_limit_remaining is not None
    # Reads used the bearer token; the mentions request carried since_id the second time.
    assert sim.count("/2/users/*/mentions") == 2


async def test_burst_larger_than_a_page_is_not_cut(sim: XSim) -> None:
    burst = [sim.state.add_mention(f"user{n}", f"help {n}") for n in range(23)]
    store = Store()
    connector = make_connector(sim, store, page_size=5, dms=False)
    await connector.connect()

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [t.id for t in burst]  # all, oldest first
    assert sim.count("/2/users/*/mentions") == 5  # 5 + 5 + 5 + 5 + 3
    assert store.duplicates == []


async def test_dm_arrives_with_conversation_and_participant(sim: XSim) -> None:
    event = sim.state.add_dm("carol", "my account is locked")
    store = Store()
    connector = make_connector(sim, store, mentions=False)
    await connector.connect()

    (dm,) = await drain(connector, store)

    carol = sim.state.by_username("carol")
    assert dm.kind is Kind.DM and dm.external_id == event.id
    assert dm.author.id == carol["id"] and dm.author.handle == "carol"
    assert dm.thread == event.conversation_id == f"{carol['id']}-{sim.state.our_id}"
    assert dm.meta["participant_id"] == carol["id"]
    assert dm.cursor is not None and dm.cursor.key == "dms"
    assert await drain(connector, store) == []


async def test_dm_backlog_is_paged_until_the_stored_position(sim: XSim) -> None:
    events = [sim.state.add_dm(f"c{n}", f"dm {n}") for n in range(12)]
    store = Store()
    connector = make_connector(sim, store, mentions=False, page_size=5)
    await connector.connect()
    assert [i.external_id for i in await drain(connector, store)] == [e.id for e in events]
    newer = [sim.state.add_dm("c1", "and another thing"), sim.state.add_dm("c2", "hello?")]
    before = sim.count("/2/dm_events")

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [e.id for e in newer]
    assert sim.count("/2/dm_events") - before == 1  # stopped at the known position
    assert store.duplicates == []


async def test_our_own_posts_are_marked_is_self(sim: XSim) -> None:
    ours = sim.state.add_tweet(sim.state.our_id, f"@{sim.state.our_username} status page updated")
    sim.state.add_dm("dave", "hi")
    own_dm = sim.state.add_dm(sim.state.our_id, "hello Dave", to="dave")
    store = Store()
    connector = make_connector(sim, store, known_bots=("@statusbot",))
    bot_tweet = sim.state.add_mention("statusbot", "automated ping")
    await connector.connect()

    got = {i.external_id: i for i in await drain(connector, store)}

    assert got[ours.id].author.is_self
    assert got[own_dm.id].author.is_self
    assert got[own_dm.id].meta["participant_id"] == sim.state.by_username("dave")["id"]
    assert got[bot_tweet.id].author.is_bot and not got[bot_tweet.id].author.is_self
    assert sum(1 for i in got.values() if i.author.is_self) == 2


async def test_search_finds_brand_talk_without_an_at(sim: XSim) -> None:
    plain = sim.state.add_tweet("erin", "Acme broke my blender")
    both = sim.state.add_mention("frank", "acme support please")
    sim.state.add_tweet("gina", "nothing to see")
    store = Store()
    connector = make_connector(sim, store, search=True, search_queries=("acme -is:retweet",))
    await connector.connect()

    got = await drain(connector, store)

    by_id = {i.external_id: i for i in got}
    assert set(by_id) == {plain.id, both.id}
    assert by_id[plain.id].meta["source"] == "search"
    assert by_id[both.id].meta["source"] == "mentions"  # found twice, handed over once
    assert len(got) == 2
    assert by_id[plain.id].cursor is not None
    assert by_id[plain.id].cursor.key.startswith("search:")


async def test_restart_resumes_from_the_stored_cursor(sim: XSim) -> None:
    early = [sim.state.add_mention("hal", f"first {n}") for n in range(3)]
    store = Store()
    first = make_connector(sim, store, dms=False)
    await first.connect()
    assert len(await drain(first, store)) == 3
    await first.close()
    # An outage: a burst bigger than a page arrives while the daemon is down.
    late = [sim.state.add_mention("ivy", f"while you were out {n}") for n in range(7)]

    second = make_connector(sim, store, dms=False, page_size=5)
    await second.connect()
    got = await drain(second, store)

    assert [i.external_id for i in got] == [t.id for t in late]
    assert store.cursors[("x", "mentions")] == late[-1].id
    assert not {t.id for t in early} & {i.external_id for i in got}
    assert store.duplicates == []


async def test_crash_mid_burst_loses_nothing(sim: XSim) -> None:
    burst = [sim.state.add_mention("jo", f"m{n}") for n in range(6)]
    sim.state.add_dm("kim", "dm one")
    store = Store()
    crashed = make_connector(sim, store, page_size=5)
    await crashed.connect()
    await drain(crashed, store, limit=2)  # the daemon dies after two commits

    restarted = make_connector(sim, store, page_size=5)
    await restarted.connect()
    await drain(restarted, store)

    assert set(store.items) >= {t.id for t in burst}
    assert len(store.items) == 7 and store.duplicates == []


async def test_first_start_looks_back_only_as_configured(sim: XSim) -> None:
    old = sim.state.add_mention(
        "lee", "last week", created_at=datetime.now(UTC) - timedelta(days=3)
    )
    sim.state.add_dm("lee", "old dm", created_at=datetime.now(UTC) - timedelta(days=3))
    fresh = sim.state.add_mention("lee", "today")
    store = Store()
    connector = make_connector(sim, store, initial_lookback_hours=2)
    await connector.connect()

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [fresh.id]
    assert old.id not in store.items


async def test_malformed_items_are_logged_and_skipped(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    good = sim.state.add_mention("mia", "fine one")
    no_author = sim.state.add_mention("ned", "secret customer words", drop=("author_id",))
    bad_date = sim.state.add_mention("ola", "bad date", overrides={"created_at": "yesterday"})
    no_text = sim.state.add_dm("pat", "x", drop=("text",))
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()

    got = await drain(connector, store)
    later = sim.state.add_mention("mia", "still listening?")
    after = await drain(connector, store)

    assert [i.external_id for i in got] == [good.id]
    assert [i.external_id for i in after] == [later.id]  # the connector kept going
    for skipped in (no_author, bad_date, no_text):
        assert skipped.id in caplog.text
    assert "secret customer words" not in caplog.text


async def test_search_position_older_than_seven_days_falls_back_to_the_window(sim: XSim) -> None:
    recent = sim.state.add_tweet(
        "quin", "acme rocks", created_at=datetime.now(UTC) - timedelta(days=2)
    )
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    stale = str((int(ten_days_ago.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22)
    query = "acme"
    store = Store()
    store.cursors[("x", search_key(query))] = stale
    connector = make_connector(
        sim,
        store,
        mentions=False,
        dms=False,
        search=True,
        search_queries=(query,),
        initial_lookback_hours=168,
    )
    await connector.connect()

    got = await drain(connector, store)

    assert [i.external_id for i in got] == [recent.id]
    assert ("GET", "/2/tweets/search/recent", 400) not in sim.requests
