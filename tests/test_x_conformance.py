"""Recorded X API v2 exchanges (tweepy's cassettes) against our parser and our simulator.

Each recorded request is replayed on a fresh simulator through the real tweepy client, and
the answer must have the same shape (keys, nesting, value types) as what X really sent;
the recorded bodies are also fed to the connector's parsing code.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from connectors.base import Health, Kind
from connectors.x import parse
from connectors.x.parse import Identity, MalformedItem
from connectors.x.transport import Credentials, XApi
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import x_settings
from tests.support.shared import shared_path

CASSETTES = (
    "test_client_get_users_mentions.yaml",
    "test_asyncclient_get_users_mentions.yaml",
    "test_client_search_recent_tweets.yaml",
    "test_client_get_me.yaml",
    "test_client_create_and_delete_tweet.yaml",
    "test_asyncclient_create_and_delete_tweet.yaml",
    "test_manage_and_lookup_direct_messages.yaml",
    "test_asyncclient_manage_and_lookup_direct_messages.yaml",
)
# The endpoints the connector uses; the cassettes' other calls (DELETE, group DMs) are not.
USER_CONTEXT = {"me", "dm_events", "dm_with", "tweets_post", "dm_post"}


def endpoint(method: str, path: str) -> str | None:
    parts = path.strip("/").split("/")
    if method == "GET" and parts[:2] == ["2", "users"] and parts[-1] == "mentions":
        return "mentions"
    if method == "GET" and path == "/2/tweets/search/recent":
        return "search"
    if method == "GET" and path == "/2/users/me":
        return "me"
    if method == "GET" and path == "/2/dm_events":
        return "dm_events"
    if (
        method == "GET"
        and parts[:3] == ["2", "dm_conversations", "with"]
        and parts[-1] == "dm_events"
    ):
        return "dm_with"
    if method == "POST" and path == "/2/tweets":
        return "tweets_post"
    if method == "POST" and parts[:3] == ["2", "dm_conversations", "with"]:
        return "dm_post"
    return None


def recorded(name: str) -> list[dict[str, Any]]:
    """Interactions of one cassette, bodies un-gzipped and parsed."""
    raw = yaml.safe_load(shared_path("fixtures", "cassettes", "tweepy", name).read_text())
    out = []
    for interaction in raw["interactions"]:
        request, response = interaction["request"], interaction["response"]
        body = response["body"].get("string")
        if isinstance(body, bytes):
            body = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
            body = body.decode()
        sent = request.get("body")
        if isinstance(sent, str | bytes):
            sent = json.loads(sent)
        url = urlsplit(request["uri"])
        out.append(
            {
                "method": request["method"],
                "path": url.path,
                "query": dict(parse_qsl(url.query)),
                "json": sent,
                "status": response["status"]["code"],
                "headers": {k.lower(): v[0] for k, v in response["headers"].items()},
                "body": json.loads(body) if body else None,
            }
        )
    return out


def shape(value: Any) -> Any:
    """Keys, nesting and value types: what a parser depends on, not the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes = [shape(item) for item in value]
        return [shapes[0]] if shapes and all(s == shapes[0] for s in shapes) else shapes[:1]
    return type(value).__name__


def seed(sim: XSim, kind: str, path: str, query: dict[str, str]) -> None:
    """Enough matching data that the simulator's answer has every recorded part (paging)."""
    parts = path.strip("/").split("/")
    if kind == "mentions":
        sim.state.add_user("Twitter", user_id=parts[2])
        for n in range(12):
            sim.state.add_tweet(f"fan{n}", f"@Twitter question {n}")
    elif kind == "search":
        for n in range(12):
            sim.state.add_tweet(f"dev{n}", f"{n} {query['query'].lower()}")
    elif kind in {"dm_with", "dm_post"}:
        peer = parts[3]
        sim.state.add_user("peer", user_id=peer)
        for n in range(101 if kind == "dm_with" else 0):
            sim.state.add_dm("peer", f"Testing {n}")


async def replay(sim: XSim, api: XApi, call: dict[str, Any]) -> Any:
    kind = endpoint(call["method"], call["path"])
    assert kind is not None
    seed(sim, kind, call["path"], call["query"])
    response = await asyncio.to_thread(
        api.reader.request,
        call["method"],
        call["path"],
        params=call["query"] or None,
        json=call["json"],
        user_auth=kind in USER_CONTEXT,
    )
    assert response.status_code == call["status"]
    for header in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"):
        assert response.headers[header].isdigit() and call["headers"][header].isdigit()
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


@pytest.mark.parametrize("cassette", CASSETTES)
async def test_simulator_answers_in_the_recorded_shapes(
    cassette: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [c for c in recorded(cassette) if endpoint(c["method"], c["path"])]
    assert calls, "no exchange of an endpoint the connector uses"
    for call in calls:
        async with XSim() as sim:
            for name, value in sim.env().items():
                monkeypatch.setenv(name, value)
            settings = x_settings(sim)
            api = XApi(settings, Credentials.from_env(settings, "x"), Health("x"))
            try:
                answer = await replay(sim, api, call)
            finally:
                api.close()
        assert shape(answer) == shape(call["body"]), f"{call['method']} {call['path']}"


def _recorded_day(call: dict[str, Any]) -> datetime | None:
    date = call["headers"].get("date")
    return parsedate_to_datetime(date) if date else None


def test_recorded_mentions_parse_once_the_requested_fields_are_there() -> None:
    me = Identity.build("783214", "Twitter", ())
    for name in ("test_client_get_users_mentions.yaml", "test_asyncclient_get_users_mentions.yaml"):
        (call,) = recorded(name)
        tweets = call["body"]["data"]
        # As recorded (no expansions asked): refused, never guessed.
        with pytest.raises(MalformedItem):
            parse.tweet_to_inbound(
                tweets[0], {}, me, channel="x", cursor_key="m", source="mentions"
            )
        users = {"42": {"id": "42", "username": "someone", "name": "Someone"}}
        for tweet in tweets:
            item = parse.tweet_to_inbound(
                {**tweet, "author_id": "42"},
                users,
                me,
                channel="x",
                cursor_key="m",
                source="mentions",
            )
            assert item.kind is Kind.MENTION and item.external_id == tweet["id"]
            assert item.thread == tweet["id"]  # no conversation_id: the tweet starts it
            assert item.author.handle == "someone" and not item.author.is_self
            day = _recorded_day(call)
            if day is not None:  # the id's embedded time matches when it was recorded
                assert abs((item.created_at - day).total_seconds()) < 3600


def test_recorded_dm_events_parse_with_sender_and_conversation() -> None:
    calls = recorded("test_manage_and_lookup_direct_messages.yaml")
    (lookup,) = [c for c in calls if endpoint(c["method"], c["path"]) == "dm_with"]
    (created,) = [c for c in calls if endpoint(c["method"], c["path"]) == "dm_post"]
    our_id = "1072250532645998596"
    conversation = created["body"]["data"]["dm_conversation_id"]
    me = Identity.build(our_id, "TweepyDev", ())
    for event in lookup["body"]["data"]:
        item = parse.dm_to_inbound(
            {**event, "sender_id": our_id, "dm_conversation_id": conversation},
            {},
            me,
            channel="x",
            cursor_key="dms",
        )
        assert item.kind is Kind.DM and item.author.is_self
        assert item.meta["participant_id"] == "750362064426721281"  # the other side
        assert item.thread == conversation
    assert parse.snowflake_time(created["body"]["data"]["dm_event_id"]).year == 2022
