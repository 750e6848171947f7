"""Replies through praw's own ``reply()`` and the reconciliation that finds them again.

These functions run in the connector's worker thread (they block on HTTP).
"""

from __future__ import annotations

from typing import Any

import praw
from praw.models import Message

from bot.errors import ConnectorError
from connectors.base import Outbound, SentRef
from connectors.reddit.parse import PUBLIC_URL, listing_children, sent_matches

_REPLYABLE = ("t1_", "t3_", "t4_")


def target_of(reply: Outbound) -> str:
    """The fullname a reply goes under: the message answered, else the thread's post."""
    target = reply.in_reply_to or reply.thread.partition(":")[0]
    if not target.startswith(_REPLYABLE) or len(target) < 4:
        raise ConnectorError(f"cannot reply on Reddit to {target!r}: not a t1_/t3_/t4_ fullname")
    return target


def thing(reddit: praw.Reddit, fullname: str) -> Any:
    """A lazy praw object for ``fullname``: no request is made to build it."""
    kind, _, ident = fullname.partition("_")
    if kind == "t1":
        return reddit.comment(ident)
    if kind == "t3":
        return reddit.submission(ident)
    return Message(reddit, {"id": ident, "name": fullname})


def mark_read(reddit: praw.Reddit, names: list[str]) -> None:
    """POST api/read_message for up to 25 inbox items, through praw's ``inbox.mark_read``."""
    reddit.inbox.mark_read([thing(reddit, name) for name in names])


def _url(created: Any) -> str | None:
    ident = getattr(created, "id", None)
    if isinstance(created, Message):
        return f"{PUBLIC_URL}/message/messages/{ident}"
    link = getattr(created, "link_id", None)
    if isinstance(link, str) and ident:
        return f"{PUBLIC_URL}/comments/{link.partition('_')[2]}/_/{ident}/"
    return None


def post(reddit: praw.Reddit, target: str, text: str) -> SentRef | None:
    """``comment.reply`` / ``submission.reply`` / ``message.reply``; None if Reddit says nothing."""
    created = thing(reddit, target).reply(text)
    if created is None:
        return None
    return SentRef(external_id=created.fullname, url=_url(created))


def find(reddit: praw.Reddit, username: str, target: str, text: str, depth: int) -> SentRef | None:
    """Look through our last ``depth`` comments (or sent messages) for ``text`` under ``target``.

    Matching is on parent and exact text, because Reddit keeps no idempotency key: two
    different outbox rows with the same text to the same message would be taken as one.
    """
    path = "message/sent/" if target.startswith("t4_") else f"user/{username}/comments"
    after: str | None = None
    seen = 0
    while seen < depth:
        params: dict[str, str | int] = {"limit": min(100, depth - seen), "sort": "new"}
        if after:
            params["after"] = after
        children, after = listing_children(reddit.request(method="GET", path=path, params=params))
        for child in children:
            name = sent_matches(child, target, text)
            if name is not None:
                ident = name.partition("_")[2]
                if name.startswith("t4_"):
                    return SentRef(name, f"{PUBLIC_URL}/message/messages/{ident}")
                link = str(child["data"].get("link_id", "")).partition("_")[2]
                return SentRef(name, f"{PUBLIC_URL}/comments/{link}/_/{ident}/" if link else None)
        seen += len(children)
        if after is None or not children:
            break
    return None
