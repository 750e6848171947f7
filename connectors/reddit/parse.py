"""Reddit JSON -> :class:`Inbound`. Pure functions, so recorded payloads can be replayed.

Thread model: a reply always goes to the item itself (``external_id`` is its fullname,
which the daemon passes back as ``Outbound.in_reply_to``). ``thread`` is the conversation
with one customer: the first message (``t4_...``) for private messages, and for comments and
posts the submission plus the author (``t3_abc:alice``). The author is part of it because a
post is a crowd, not a conversation: the daemon's acknowledgement cool-down is per thread,
and two customers under the same post must each be acknowledged. A reply with no
``in_reply_to`` goes under the submission (the part before the colon).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import Author, Cursor, Inbound, Kind
from connectors.reddit.types import Thing, ThingData

PUBLIC_URL = "https://www.reddit.com"
_CONTEXT_LINK = re.compile(r"/comments/([a-z0-9]+)/", re.IGNORECASE)
_INBOX_KINDS = {"username_mention": Kind.MENTION, "comment_reply": Kind.COMMENT}


class MalformedPayload(ValueError):
    """A body or an item lacks what the parser needs; the message names keys, never content."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    channel: str
    username: str  # our account
    known_bots: frozenset[str]  # lower-case names

    @classmethod
    def create(cls, channel: str, username: str, bots: Iterable[str]) -> ParseContext:
        return cls(channel, username, frozenset(b.lower() for b in bots))


def listing_children(body: object) -> tuple[list[Thing], str | None]:
    """The things of a Listing body and its ``after`` token; raises on a body of another shape."""
    if not isinstance(body, dict) or body.get("kind") != "Listing":
        raise MalformedPayload("not a Listing")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise MalformedPayload("Listing without data.children")
    after = data.get("after")
    return list(data["children"]), after if isinstance(after, str) and after else None


def thing_name(thing: object) -> str | None:
    """The fullname of a thing when it has one, for log lines about items we skip."""
    if isinstance(thing, dict) and isinstance(thing.get("data"), dict):
        name = thing["data"].get("name")
        return name if isinstance(name, str) else None
    return None


def _require(data: ThingData, key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise MalformedPayload(f"{data.get('name', '?')}: missing or invalid {key!r}")
    return value


def _data(thing: object, kinds: tuple[str, ...]) -> tuple[str, ThingData]:
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        raise MalformedPayload("thing without data")
    kind = thing.get("kind")
    if kind not in kinds:
        raise MalformedPayload(f"unexpected thing kind {kind!r}")
    data: ThingData = thing["data"]
    _require(data, "id", str)
    name = _require(data, "name", str)
    if name != f"{kind}_{data['id']}":
        raise MalformedPayload(f"{name}: name does not match kind and id")
    return kind, data


def _created(data: ThingData) -> datetime:
    stamp = _require(data, "created_utc", (int, float))
    return datetime.fromtimestamp(float(stamp), UTC)


def _author(data: ThingData, ctx: ParseContext) -> Author:
    name = data.get("author")
    if not name:
        subreddit = data.get("subreddit")
        if subreddit:  # a message sent by a subreddit's moderators
            return Author(id=f"subreddit:{subreddit}", handle=f"r/{subreddit}")
        name = "[deleted]"
    author_id = data.get("author_fullname") or f"user:{name}"
    return Author(
        id=author_id,
        handle=name,
        is_self=name.lower() == ctx.username.lower(),
        is_bot=name.lower() in ctx.known_bots,
    )


def _customer_thread(link: str, author: Author) -> str:
    return f"{link}:{author.handle.lower()}"


def _link_from_context(data: ThingData) -> str | None:
    match = _CONTEXT_LINK.search(data.get("context") or "")
    return f"t3_{match.group(1)}" if match else None


def inbox_item(thing: object, ctx: ParseContext) -> Inbound:
    """One item of ``message/unread`` (or mentions, messages, comments): a t1 or a t4."""
    kind, data = _data(thing, ("t1", "t4"))
    text = _require(data, "body", str)
    name = data["name"]
    if kind == "t4":
        first = data.get("first_message_name")
        return Inbound(
            channel=ctx.channel,
            kind=Kind.DM,
            external_id=name,
            thread=first if isinstance(first, str) and first else name,
            author=_author(data, ctx),
            text=text,
            created_at=_created(data),
            url=f"{PUBLIC_URL}/message/messages/{data['id']}",
            meta={"reddit_type": "message", "source": "inbox"},
        )
    reddit_type = data.get("type") or "comment_reply"
    context = data.get("context") or ""
    meta = {"reddit_type": reddit_type, "source": "inbox"}
    if data.get("subreddit"):
        meta["subreddit"] = str(data["subreddit"])
    author = _author(data, ctx)
    link = _link_from_context(data) or data.get("parent_id") or name
    return Inbound(
        channel=ctx.channel,
        kind=_INBOX_KINDS.get(reddit_type, Kind.COMMENT),
        external_id=name,
        thread=_customer_thread(link, author),
        author=author,
        text=text,
        created_at=_created(data),
        url=f"{PUBLIC_URL}{context}" if context.startswith("/") else None,
        meta=meta,
    )


def subreddit_item(thing: object, ctx: ParseContext, cursor_key: str) -> Inbound:
    """A comment (t1) of ``r/<sub>/comments`` or a submission (t3) of ``r/<sub>/new``."""
    kind, data = _data(thing, ("t1", "t3"))
    name = data["name"]
    if kind == "t3":
        title = _require(data, "title", str)
        body = data.get("selftext") or ""
        text, thread, reddit_type = (f"{title}\n\n{body}" if body else title), name, "submission"
    else:
        text = _require(data, "body", str)
        thread, reddit_type = _require(data, "link_id", str), "subreddit_comment"
    permalink = data.get("permalink") or ""
    author = _author(data, ctx)
    meta = {"reddit_type": reddit_type, "source": "subreddit"}
    if data.get("subreddit"):
        meta["subreddit"] = str(data["subreddit"])
    return Inbound(
        channel=ctx.channel,
        kind=Kind.MENTION if kind == "t3" else Kind.COMMENT,
        external_id=name,
        thread=_customer_thread(thread, author),
        author=author,
        text=text,
        created_at=_created(data),
        cursor=Cursor(cursor_key, name),
        url=f"{PUBLIC_URL}{permalink}" if permalink.startswith("/") else None,
        meta=meta,
    )


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any keyword as a whole word or phrase."""
    words = [re.escape(k) for k in keywords if k]
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)


def sent_matches(thing: object, parent: str, text: str) -> str | None:
    """Fullname of ``thing`` when it is our reply ``text`` under ``parent``, else None."""
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        return None
    data = thing["data"]
    if data.get("parent_id") != parent:
        return None
    body = data.get("body")
    if not isinstance(body, str) or body.strip() != text.strip():
        return None
    name = data.get("name")
    return name if isinstance(name, str) else None
