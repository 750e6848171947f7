"""X payloads to :class:`Inbound`: pure functions, so recorded exchanges can be replayed.

A single item that does not parse raises :class:`MalformedItem`; the connector logs it and
goes on with the rest of the page, so one odd tweet never stops the stream.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.base import Author, Cursor, Inbound, Kind
from connectors.x.types import DmEventPayload, Includes, TweetPayload, UserPayload

TWITTER_EPOCH_MS = 1288834974657
MESSAGE_CREATE = "MessageCreate"

# The fields every read asks for: enough to build an Inbound and answer in the same thread.
TWEET_FIELDS = ("author_id", "created_at", "conversation_id", "in_reply_to_user_id")
TWEET_EXPANSIONS = ("author_id",)
USER_FIELDS = ("username", "name")
DM_EVENT_FIELDS = ("id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id")
DM_EXPANSIONS = ("sender_id",)


class MalformedItem(ValueError):
    """One tweet or DM event lacks what we need; the message never contains customer text."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who "we" are and who counts as a bot: decides is_self / is_bot."""

    user_id: str
    handle: str | None = None
    known_bots: frozenset[str] = frozenset()  # lower-case handles and user ids

    @classmethod
    def build(cls, user_id: str, handle: str | None, bots: Iterable[str]) -> Identity:
        return cls(user_id, handle, frozenset(b.lstrip("@").lower() for b in bots))

    def author(self, user_id: str, user: UserPayload | None) -> Author:
        handle = (user or {}).get("username") or user_id
        return Author(
            id=user_id,
            handle=handle,
            display_name=(user or {}).get("name"),
            is_self=user_id == self.user_id,
            is_bot=user_id in self.known_bots or handle.lower() in self.known_bots,
        )


def snowflake_time(item_id: str) -> datetime:
    """X ids embed their creation time: the fallback when ``created_at`` is missing."""
    millis = (int(item_id) >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def parse_time(value: str | None, item_id: str) -> datetime:
    if not value:
        return snowflake_time(item_id)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedItem(f"item {item_id}: created_at is not ISO 8601") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def users_by_id(includes: Includes | None) -> dict[str, UserPayload]:
    users = (includes or {}).get("users") or []
    return {u["id"]: u for u in users if isinstance(u, dict) and isinstance(u.get("id"), str)}


def item_id(raw: Mapping[str, object]) -> str:
    """The numeric string id of a tweet or DM event (ids are compared as integers)."""
    value = raw.get("id") if isinstance(raw, Mapping) else None
    if not isinstance(value, str) or not value.isdigit():
        raise MalformedItem("item without a numeric string id")
    return value


def _text(raw: Mapping[str, object], ident: str) -> str:
    text = raw.get("text")
    if not isinstance(text, str):
        raise MalformedItem(f"item {ident}: no text")
    return html.unescape(text)  # X escapes & < > in v2 texts


def tweet_to_inbound(
    raw: TweetPayload,
    users: Mapping[str, UserPayload],
    me: Identity,
    *,
    channel: str,
    cursor_key: str,
    source: str,
) -> Inbound:
    """A mention or a search hit. ``thread`` is the conversation; replies quote the tweet id."""
    ident = item_id(raw)
    author_id = raw.get("author_id")
    if not isinstance(author_id, str) or not author_id:
        raise MalformedItem(f"tweet {ident}: no author_id (expansion missing?)")
    author = me.author(author_id, users.get(author_id))
    conversation = raw.get("conversation_id") or ident
    meta = {"source": source, "conversation_id": str(conversation)}
    if isinstance(raw.get("in_reply_to_user_id"), str):
        meta["in_reply_to_user_id"] = str(raw.get("in_reply_to_user_id"))
    return Inbound(
        channel=channel,
        kind=Kind.MENTION,
        external_id=ident,
        thread=str(conversation),
        author=author,
        text=_text(raw, ident),
        created_at=parse_time(raw.get("created_at"), ident),
        cursor=Cursor(cursor_key, ident),
        url=f"https://x.com/{author.handle}/status/{ident}",
        meta=meta,
    )


def other_participant(conversation_id: str, our_id: str) -> str | None:
    """One-to-one conversation ids are ``<id>-<id>``: the one that is not ours."""
    parts = conversation_id.split("-")
    if len(parts) != 2:
        return None  # a group conversation
    others = [p for p in parts if p != our_id]
    return others[0] if others else None


def dm_to_inbound(
    raw: DmEventPayload,
    users: Mapping[str, UserPayload],
    me: Identity,
    *,
    channel: str,
    cursor_key: str,
) -> Inbound:
    """A MessageCreate event. ``meta['participant_id']`` is who a reply must be sent to."""
    ident = item_id(raw)
    sender = raw.get("sender_id")
    conversation = raw.get("dm_conversation_id")
    if not isinstance(sender, str) or not isinstance(conversation, str):
        raise MalformedItem(f"dm event {ident}: no sender_id or dm_conversation_id")
    author = me.author(sender, users.get(sender))
    participant = sender if not author.is_self else other_participant(conversation, me.user_id)
    meta = {"dm_conversation_id": conversation}
    if participant:
        meta["participant_id"] = participant
    return Inbound(
        channel=channel,
        kind=Kind.DM,
        external_id=ident,
        thread=conversation,
        author=author,
        text=_text(raw, ident),
        created_at=parse_time(raw.get("created_at"), ident),
        cursor=Cursor(cursor_key, ident),
        meta=meta,
    )
