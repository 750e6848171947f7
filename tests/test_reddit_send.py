"""Reddit replies: comment.reply / message.reply through real praw, reconciliation, limits."""

from __future__ import annotations

import pytest

from bot.errors import ConnectorError
from connectors.base import Inbound, Kind, Outbound
from connectors.reddit import RedditConnector
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_testkit import drain, make_connector, reddit_env, sim

__all__ = ["reddit_env", "sim"]  # fixtures

pytestmark = pytest.mark.usefixtures("reddit_env")


def answer(item: Inbound, text: str, key: str = "outbox-1") -> Outbound:
    return Outbound(
        channel=item.channel,
        kind=item.kind,
        thread=item.thread,
        text=text,
        in_reply_to=item.external_id,
        recipient_id=item.author.id,
        idempotency_key=key,
    )


async def connected(sim: RedditSim, **overrides: object) -> RedditConnector:
    connector = make_connector(sim, **overrides)
    await connector.connect()
    return connector


async def test_reply_lands_under_the_comment_and_the_message(sim: RedditSim) -> None:
    mention = sim.add_inbox("username_mention", "alice", "help", link_id="t3_abc")
    dm = sim.add_inbox("message", "bob", "refund?")
    connector = await connected(sim)
    items = {i.external_id: i for i in await drain(connector)}

    on_comment = await connector.send(answer(items[mention], "Sorry! We are on it."))
    on_message = await connector.send(answer(items[dm], "Refund started.", "outbox-2"))

    assert [(s["thing_id"], s["text"]) for s in sim.sent] == [
        (mention, "Sorry! We are on it."),
        (dm, "Refund started."),
    ]
    assert on_comment.external_id == sim.sent[0]["name"] and on_comment.external_id.startswith(
        "t1_"
    )
    assert on_comment.url is not None and "/comments/abc/" in on_comment.url
    assert on_message.external_id == sim.sent[1]["name"] and on_message.external_id.startswith(
        "t4_"
    )
    assert connector.health().state == "ok"
    await connector.close()


async def test_reply_to_a_submission_and_thread_fallback(sim: RedditSim) -> None:
    post = sim.add_subreddit("gadgets", "new", "gina", "acme help")
    connector = await connected(sim, subreddits=("gadgets",), inbox=False)
    [item] = await drain(connector)

    await connector.send(answer(item, "Happy to help"))
    no_parent = Outbound("reddit", Kind.MENTION, item.thread, "Top-level", None, None, "k3")
    await connector.send(no_parent)

    assert [s["thing_id"] for s in sim.sent] == [post, post]
    await connector.close()


async def test_reply_is_trimmed_to_reddits_limit(sim: RedditSim) -> None:
    dm = sim.add_inbox("message", "bob", "long story")
    connector = await connected(sim)
    [item] = await drain(connector)

    await connector.send(answer(item, "x" * 12_000))

    assert connector.max_length == 10_000
    assert len(sim.sent[0]["text"]) == 10_000
    assert sim.sent[0]["thing_id"] == dm
    await connector.close()


async def test_find_sent_matches_parent_and_text(sim: RedditSim) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    sim.add_inbox("message", "bob", "hi")
    connector = await connected(sim)
    mention, dm = await drain(connector)
    await connector.send(answer(mention, "On it"))
    await connector.send(answer(dm, "Hello Bob", "outbox-2"))

    assert await connector.find_sent(answer(mention, "On it")) is not None
    found_dm = await connector.find_sent(answer(dm, "Hello Bob", "outbox-2"))
    assert found_dm is not None and found_dm.external_id == sim.sent[1]["name"]
    assert await connector.find_sent(answer(mention, "A different text")) is None
    assert await connector.find_sent(answer(dm, "On it")) is None
    await connector.close()


async def test_reply_posted_but_answer_lost_is_not_posted_twice(sim: RedditSim) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    connector = await connected(sim, request_timeout=0.5)
    [item] = await drain(connector)
    sim.inject("slow", path="/api/comment", after=True, delay=1.5)  # posted, answer too late

    sent = await connector.send(answer(item, "We are looking into it"))

    assert len(sim.sent) == 1
    assert sent.external_id == sim.sent[0]["name"]
    await connector.close()


async def test_truncated_answer_to_a_reply_is_not_posted_twice(sim: RedditSim) -> None:
    sim.add_inbox("message", "bob", "hi")
    connector = await connected(sim)
    [item] = await drain(connector)
    sim.inject("truncate", path="/api/comment")

    sent = await connector.send(answer(item, "Hello"))

    assert [s["name"] for s in sim.sent] == [sent.external_id]
    await connector.close()


async def test_ratelimit_error_waits_the_time_reddit_names(sim: RedditSim) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    connector = await connected(sim)
    [item] = await drain(connector)
    sim.inject("ratelimit", path="/api/comment", reset=1, times=2)

    await connector.send(answer(item, "On it"))

    assert len(sim.sent) == 1
    assert sim.calls("/api/comment", "POST") == 3
    assert connector.health().rate_limit_waits == 2
    await connector.close()


async def test_ratelimit_longer_than_allowed_is_raised_not_slept(sim: RedditSim) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    connector = await connected(sim, rate_limit_max_wait=2)
    [item] = await drain(connector)
    sim.inject("ratelimit", path="/api/comment", reset=600)

    with pytest.raises(ConnectorError) as caught:
        await connector.send(answer(item, "On it"))

    assert type(caught.value).__name__ == "RateLimited"
    assert caught.value.reset_at is not None  # type: ignore[attr-defined]
    assert sim.sent == []
    await connector.close()


async def test_refused_reply_is_a_connector_error(sim: RedditSim) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    connector = await connected(sim)
    [item] = await drain(connector)
    sim.inject("status", path="/api/comment", status=403)

    with pytest.raises(ConnectorError, match="403"):
        await connector.send(answer(item, "On it"))
    with pytest.raises(ConnectorError, match="t2_nope"):
        await connector.send(Outbound("reddit", Kind.DM, "t2_nope", "x", None, None, "k"))

    assert connector.health().token_valid is True  # a locked thread is not an auth failure
    assert sim.sent == []
    await connector.close()


async def test_reconnect_keeps_the_session_and_reconcile_works_before_connect(
    sim: RedditSim,
) -> None:
    sim.add_inbox("username_mention", "alice", "help")
    connector = await connected(sim)
    [item] = await drain(connector)
    await connector.connect()  # the daemon reconnects after a listen() failure
    sent = await connector.send(answer(item, "On it"))
    assert sim.calls("/api/v1/access_token") == 1  # same session, same token

    after_crash = make_connector(sim)  # a new process: the sender reconciles first
    found = await after_crash.find_sent(answer(item, "On it"))

    assert found is not None and found.external_id == sent.external_id
    await connector.close()
    await after_crash.close()
