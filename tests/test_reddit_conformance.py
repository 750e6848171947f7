"""Recorded Reddit exchanges (PRAW's betamax cassettes) against our parser and our simulator.

The cassettes live in ../shared/fixtures/cassettes/praw; every test here skips without them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.base import Kind, Outbound
from connectors.reddit.parse import (
    ParseContext,
    inbox_item,
    listing_children,
    subreddit_item,
)
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_sim_payloads import (
    SimState,
    inbox_thing,
    listing,
    listing_thing,
    our_comment,
    our_message,
)
from tests.sims.reddit_testkit import drain, make_connector, reddit_env, sim
from tests.support.shared import shared_path

__all__ = ["reddit_env", "sim"]  # fixtures

CTX = ParseContext.create("reddit", "<USERNAME>", ["AutoModerator"])
INBOX_CASSETTES = [
    "TestInbox.test_unread.json",
    "TestInbox.test_mentions.json",
    "TestInbox.test_messages.json",
    "TestInbox.test_comment_replies.json",
    "TestInbox.test_submission_replies.json",
    "TestInbox.test_stream.json",
    "TestInbox.test_mark_read.json",
]


def interactions(cassette: str) -> list[dict[str, Any]]:
    path = shared_path("fixtures", "cassettes", "praw", cassette)
    return list(json.loads(path.read_text())["interactions"])


def body(cassette: str, index: int) -> Any:
    return json.loads(interactions(cassette)[index]["response"]["body"]["string"])


def request_body(interaction: dict[str, Any]) -> str:
    raw = interaction["request"]["body"]
    return str(raw["string"] if isinstance(raw, dict) else raw)


def recorded_bodies(cassette: str, path_part: str) -> list[Any]:
    return [
        json.loads(i["response"]["body"]["string"])
        for i in interactions(cassette)
        if path_part in i["request"]["uri"] and i["response"]["status"]["code"] == 200
    ]


@pytest.mark.parametrize("cassette", INBOX_CASSETTES)
def test_every_recorded_inbox_item_parses(cassette: str) -> None:
    pages = recorded_bodies(cassette, "/message/")
    assert pages, "the cassette holds no inbox listing"
    for page in pages:
        children, _ = listing_children(page)
        for child in children:
            item = inbox_item(child, CTX)
            data = child["data"]
            assert item.external_id == data["name"] and item.text == data["body"]
            assert item.author.handle == (data["author"] or f"r/{data['subreddit']}")
            if child["kind"] == "t4":
                assert item.kind is Kind.DM
                assert item.thread == (data["first_message_name"] or data["name"])
            else:
                expected = {"username_mention": Kind.MENTION}.get(data["type"], Kind.COMMENT)
                assert item.kind is expected
                link, _, who = item.thread.partition(":")
                assert link.startswith("t3_") and link[3:] in data["context"]
                assert who == item.author.handle.lower()


def test_recorded_items_know_self_and_bots() -> None:
    children, _ = listing_children(body("TestInbox.test_unread.json", 1))
    authors = [inbox_item(child, CTX).author for child in children]
    assert any(a.is_bot and a.handle == "AutoModerator" for a in authors)
    assert all(not a.is_bot for a in authors if a.handle != "AutoModerator")
    children, _ = listing_children(body("TestInbox.test_messages.json", 1))
    mine = [inbox_item(c, CTX).author for c in children if c["data"]["author"] == "<USERNAME>"]
    assert mine and all(a.is_self for a in mine)


@pytest.mark.parametrize(
    ("cassette", "key"),
    [
        ("TestSubredditStreams.test_comments__with_pause.json", "r/kakapo/comments"),
        ("TestSubredditStreams.test_submissions.json", "r/all/new"),
    ],
)
def test_every_recorded_subreddit_item_parses(cassette: str, key: str) -> None:
    count = 0
    for page in recorded_bodies(cassette, f"/{key}"):
        children, _ = listing_children(page)
        for child in children:
            item = subreddit_item(child, CTX, key)
            assert item.cursor is not None and item.cursor.value == child["data"]["name"]
            assert item.thread.startswith("t3_")
            count += 1
    assert count > 30


def _keys(things: list[dict[str, Any]], kind: str) -> set[str]:
    return {k for t in things if t["kind"] == kind for k in t["data"]}


def test_simulator_inbox_items_have_the_recorded_keys_and_types() -> None:
    recorded = body("TestInbox.test_unread.json", 1)
    state = SimState()
    sim_t1 = inbox_thing(state, "t1", "alice", "hi", type="username_mention")
    sim_t4 = inbox_thing(state, "t4", "bob", "hi", type="unknown")
    children = recorded["data"]["children"]
    assert set(sim_t1) == _keys(children, "t1")
    assert set(sim_t4) == _keys(children, "t4")
    for child in children:
        ours = sim_t1 if child["kind"] == "t1" else sim_t4
        for key, value in child["data"].items():
            if value is not None and ours[key] is not None:
                assert type(ours[key]) is type(value), key
    assert set(listing([], {})["data"]) == set(recorded["data"])


def test_simulator_listings_and_replies_have_the_recorded_keys() -> None:
    state = SimState()
    comments = body("TestSubredditStreams.test_comments__with_pause.json", 1)["data"]["children"]
    posts = body("TestSubredditStreams.test_submissions.json", 1)["data"]["children"]
    assert set(listing_thing(state, "t1", "s", "a", "b")) == _keys(comments, "t1")
    assert set(listing_thing(state, "t3", "s", "a", "b")) <= _keys(posts, "t3")  # no media keys
    parent_t1 = inbox_thing(state, "t1", "alice", "hi", type="username_mention")
    parent_t4 = inbox_thing(state, "t4", "bob", "hi", type="unknown")
    comment_reply = body("TestComment.test_reply.json", 1)["json"]["data"]["things"]
    message_reply = body("TestMessage.test_reply.json", 2)["json"]["data"]["things"]
    assert _keys(comment_reply, "t1") <= set(our_comment(state, parent_t1, "x"))
    assert _keys(message_reply, "t4") == set(our_message(state, parent_t4, "x"))


def _fields(form: str) -> set[str]:
    return {part.split("=")[0] for part in form.split("&")}


@pytest.mark.usefixtures("reddit_env")
async def test_connector_posts_the_recorded_form_fields(sim: RedditSim) -> None:
    [mark] = [
        i
        for i in interactions("TestInbox.test_mark_read.json")
        if "read_message" in i["request"]["uri"]
    ]
    [reply] = [
        i
        for i in interactions("TestMessage.test_reply.json")
        if "api/comment" in i["request"]["uri"]
    ]
    sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim)
    await connector.connect()
    [item] = await drain(connector)
    await connector.send(
        Outbound("reddit", Kind.DM, item.thread, "ok", item.external_id, None, "k")
    )

    forms = {path.strip("/"): set(fields) for path, fields in sim.state.forms}
    assert forms["api/read_message"] == _fields(request_body(mark))
    assert forms["api/comment"] == _fields(request_body(reply))
    await connector.close()


@pytest.mark.usefixtures("reddit_env")
async def test_recorded_unread_body_through_praw_and_the_connector(sim: RedditSim) -> None:
    recorded = interactions("TestInbox.test_unread.json")[1]["response"]["body"]["string"]
    expected = [c["data"]["name"] for c in json.loads(recorded)["data"]["children"]]
    connector = make_connector(sim, max_pages=1)
    await connector.connect()
    sim.inject("body", path="/message/unread", body=recorded)

    items = await drain(connector, commit=False)

    assert [i.external_id for i in items] == list(reversed(expected))
    await connector.close()
