"""The X simulator's world: users, tweets, DM events, and the replies the bot posted.

Payloads are built in X API v2's real shapes (checked against the tweepy cassettes by
tests/test_x_conformance.py): ids are snowflakes (creation time in the high bits, so
ordering by id is ordering by time), fields appear only when requested, ``text`` escapes
``& < >``, a reply's text starts with the @handle it answers.
"""

from __future__ import annotations

import html
import itertools
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TWITTER_EPOCH_MS = 1288834974657


def x_time(dt: datetime) -> str:
    """X's timestamp format: 2022-10-07T22:43:18.000Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def weighted_length(text: str) -> int:
    """twitter-text v3 (independent of the connector's copy on purpose): URLs weigh 23."""
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    text = unicodedata.normalize("NFC", text)
    urls = re.findall(r"https?://\S+", text)
    rest = re.sub(r"https?://\S+", "", text)
    weights = (1 if any(a <= ord(c) <= b for a, b in light) else 2 for c in rest)
    return sum(weights) + 23 * len(urls)


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str  # as the author typed it (unescaped)
    created_at: datetime
    conversation_id: str
    in_reply_to_user_id: str | None = None
    replied_to: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # to serve malformed items
    drop: tuple[str, ...] = ()


@dataclass
class DmEvent:
    id: str
    sender_id: str
    conversation_id: str
    text: str
    created_at: datetime
    event_type: str = "MessageCreate"
    overrides: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()


class XState:
    """Everything the simulated platform knows; the HTTP layer only reads and appends."""

    def __init__(self, our_id: str, our_username: str) -> None:
        self.our_id = our_id
        self.users: dict[str, dict[str, str]] = {}
        self.tweets: dict[str, Tweet] = {}
        self.dms: dict[str, DmEvent] = {}
        self.sent: list[dict[str, Any]] = []
        self._last_id = 0
        self._user_ids = itertools.count(2_000_000_001)
        self.add_user(our_username, user_id=our_id, name=f"{our_username} support")

    # -- ids and users -------------------------------------------------------------------

    def next_id(self, at: datetime | None = None) -> str:
        millis = int((at.timestamp() if at else time.time()) * 1000)
        candidate = (millis - TWITTER_EPOCH_MS) << 22
        self._last_id = max(self._last_id + 1, candidate)
        return str(self._last_id)

    def add_user(
        self, username: str, *, user_id: str | None = None, name: str | None = None
    ) -> dict[str, str]:
        existing = self.by_username(username)
        if existing is not None:
            return existing
        ident = user_id or str(next(self._user_ids))
        user = {"id": ident, "name": name or username.title(), "username": username}
        self.users[ident] = user
        return user

    def by_username(self, username: str) -> dict[str, str] | None:
        wanted = username.lstrip("@").lower()
        return next((u for u in self.users.values() if u["username"].lower() == wanted), None)

    def user(self, who: str) -> dict[str, str]:
        """A user by id or username, created on first use."""
        return self.users.get(who) or self.add_user(who.lstrip("@"))

    @property
    def our_username(self) -> str:
        return self.users[self.our_id]["username"]

    # -- content -------------------------------------------------------------------------

    def add_tweet(
        self,
        author: str,
        text: str,
        *,
        in_reply_to: str | None = None,
        created_at: datetime | None = None,
        overrides: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> Tweet:
        user = self.user(author)
        created = created_at or datetime.now(UTC)
        ident = self.next_id(created)
        parent = self.tweets.get(in_reply_to) if in_reply_to else None
        if parent is not None:
            parent_handle = self.users[parent.author_id]["username"]
            if not text.lower().startswith(f"@{parent_handle.lower()}"):
                text = f"@{parent_handle} {text}"  # X puts the answered handle first
        tweet = Tweet(
            id=ident,
            author_id=user["id"],
            text=text,
            created_at=created,
            conversation_id=parent.conversation_id if parent else ident,
            in_reply_to_user_id=parent.author_id if parent else None,
            replied_to=parent.id if parent else None,
            overrides=dict(overrides or {}),
            drop=drop,
        )
        self.tweets[ident] = tweet
        return tweet

    def add_mention(self, author: str, text: str, **kwargs: Any) -> Tweet:
        handle = f"@{self.our_username}"
        if handle.lower() not in text.lower():
            text = f"{handle} {text}"
        return self.add_tweet(author, text, **kwargs)

    def conversation_id(self, a: str, b: str) -> str:
        low, high = sorted((a, b), key=int)
        return f"{low}-{high}"

    def add_dm(
        self,
        sender: str,
        text: str,
        *,
        to: str | None = None,
        event_type: str = "MessageCreate",
        created_at: datetime | None = None,
        overrides: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
    ) -> DmEvent:
        user = self.user(sender)
        other = self.user(to)["id"] if to else self.our_id
        created = created_at or datetime.now(UTC)
        event = DmEvent(
            id=self.next_id(created),
            sender_id=user["id"],
            conversation_id=self.conversation_id(user["id"], other),
            text=text,
            created_at=created,
            event_type=event_type,
            overrides=dict(overrides or {}),
            drop=drop,
        )
        self.dms[event.id] = event
        return event

    # -- queries -------------------------------------------------------------------------

    def mentions_of(self, user_id: str) -> list[Tweet]:
        handle = re.compile(rf"@{re.escape(self.users[user_id]['username'])}\b", re.IGNORECASE)
        return [t for t in self.tweets.values() if handle.search(t.text)]

    def tweets_by(self, user_id: str) -> list[Tweet]:
        return [t for t in self.tweets.values() if t.author_id == user_id]

    def search(self, query: str) -> list[Tweet]:
        """Every plain term must occur (case-insensitive); operators (is:, -x, lang:) ignored."""
        terms = [t.lower() for t in query.split() if ":" not in t and not t.startswith("-")]
        return [t for t in self.tweets.values() if all(term in t.text.lower() for term in terms)]

    def dm_events_of(self, user_id: str, with_user: str | None = None) -> list[DmEvent]:
        events = [e for e in self.dms.values() if user_id in e.conversation_id.split("-")]
        if with_user is not None:
            wanted = self.conversation_id(user_id, with_user)
            events = [e for e in events if e.conversation_id == wanted]
        return events

    def duplicate_of(self, author_id: str, text: str) -> bool:
        return any(
            t.author_id == author_id and (t.text == text or t.text.endswith(" " + text))
            for t in self.tweets.values()
        )

    # -- serialisation in X's shapes -----------------------------------------------------

    def tweet_json(self, tweet: Tweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "edit_history_tweet_ids": [tweet.id],
            "id": tweet.id,
            "text": html.escape(tweet.text, quote=False),
        }
        optional: dict[str, Any] = {
            "author_id": tweet.author_id,
            "created_at": x_time(tweet.created_at),
            "conversation_id": tweet.conversation_id,
        }
        if tweet.in_reply_to_user_id:
            optional["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if tweet.replied_to:
            optional["referenced_tweets"] = [{"type": "replied_to", "id": tweet.replied_to}]
        out.update({k: v for k, v in optional.items() if k in fields})
        return _finish(out, tweet.overrides, tweet.drop)

    def dm_json(self, event: DmEvent, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"event_type": event.event_type, "id": event.id}
        if event.event_type == "MessageCreate":
            out["text"] = event.text
        optional = {
            "created_at": x_time(event.created_at),
            "sender_id": event.sender_id,
            "dm_conversation_id": event.conversation_id,
        }
        out.update({k: v for k, v in optional.items() if k in fields})
        return _finish(out, event.overrides, event.drop)

    def users_json(self, ids: list[str]) -> list[dict[str, str]]:
        seen: dict[str, dict[str, str]] = {}
        for ident in ids:
            if ident in self.users and ident not in seen:
                seen[ident] = dict(self.users[ident])
        return list(seen.values())


def _finish(
    out: dict[str, Any], overrides: dict[str, Any], drop: tuple[str, ...]
) -> dict[str, Any]:
    out.update(overrides)
    for key in drop:
        out.pop(key, None)
    return out
