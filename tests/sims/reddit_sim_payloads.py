"""State and payload builders of the Reddit simulator, shaped like PRAW's recordings.

Kept apart from the HTTP server (reddit_sim.py) so the conformance test can compare these
shapes with the recorded cassettes key by key.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]
TOKEN_PATH = "/api/v1/access_token"
RATELIMIT_TEXT = (
    "Looks like you've been doing that a lot. Take a break for {n} seconds before trying again."
)


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next ``times`` matching requests.

    kind: "status" (answer ``status`` with ``body``), "429" (rate limited for ``reset`` s),
    "ratelimit" (a RATELIMIT API error, ``reset`` s), "slow" (sleep ``delay`` before
    answering, after doing the work when ``after``), "truncate" (do the work, send half the
    body), "body" (answer 200 with ``body`` verbatim).
    """

    kind: str
    path: str = ""  # prefix of the request path; "" matches every API path
    method: str | None = None
    times: int = 1
    status: int = 503
    body: str = ""
    reset: int = 1
    delay: float = 0.0
    after: bool = False
    gate: Any = None  # an asyncio.Event: "slow" waits for it instead of sleeping ``delay``
    reached: Any = None  # an asyncio.Event the simulator sets when "slow" starts waiting

    async def pause(self) -> None:
        if self.reached is not None:
            self.reached.set()
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(self.delay)

    def matches(self, request: web.Request) -> bool:
        if self.times <= 0 or (self.method and request.method != self.method):
            return False
        return request.path.rstrip("/").startswith(self.path.rstrip("/"))


@dataclass
class SimState:
    username: str = "brand_support"
    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    password: str = "sim-password"
    refresh_token: str = "sim-refresh-token"
    credentials_valid: bool = True
    tokens: set[str] = field(default_factory=set)
    inbox: dict[str, Json] = field(default_factory=dict)  # fullname -> thing data
    subreddits: dict[tuple[str, str], list[Json]] = field(default_factory=dict)
    own_comments: list[Json] = field(default_factory=list)
    own_messages: list[Json] = field(default_factory=list)
    sent: list[Json] = field(default_factory=list)  # every reply the bot posted
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, query
    forms: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # POST path, fields
    faults: list[Fault] = field(default_factory=list)
    # Reddit's free tier: 1000 requests per 600 s window, and prawcore then spaces requests
    # about 0.6 s apart. The default here is generous so that tests are not paced.
    budget: int = 100_000
    window: float = 600.0  # seconds
    window_start: float = field(default_factory=time.monotonic)
    used: int = 0
    throttled: int = 0  # 429s answered because the budget was spent (not injected ones)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(int("n00000", 36)))


def _id(state: SimState) -> str:
    n, digits = next(state.ids), "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def _html(text: str) -> str:
    return f'<!-- SC_OFF --><div class="md"><p>{text}</p>\n</div><!-- SC_ON -->'


def inbox_thing(state: SimState, kind: str, author: str, body: str, **extra: Any) -> Json:
    """An inbox item shaped like ``message/unread`` (t1: mention/reply, t4: message)."""
    ident, now = _id(state), extra.pop("created_utc", time.time())
    sub = extra.pop("subreddit", "brand")
    link = extra.pop("link_id", f"t3_{_id(state)}")
    data: Json = {
        "first_message": None,
        "first_message_name": None,
        "subreddit": sub,
        "likes": None,
        "replies": "",
        "author_fullname": f"t2_{author.lower()[:8]}",
        "id": ident,
        "subject": extra.pop("subject", "username mention"),
        "associated_awarding_id": None,
        "score": 1,
        "author": author,
        "num_comments": 1,
        "parent_id": link,
        "subreddit_name_prefixed": f"r/{sub}",
        "new": True,
        "type": extra.pop("type"),
        "body": body,
        "link_title": "A post",
        "dest": state.username,
        "was_comment": True,
        "body_html": _html(body),
        "name": f"{kind}_{ident}",
        "created": now,
        "created_utc": now,
        "context": f"/r/{sub}/comments/{link[3:]}/a_post/{ident}/?context=3",
        "distinguished": None,
    }
    if kind == "t4":
        data.pop("link_title")
        first = extra.pop("first_message_name", None)
        data.update(
            subreddit=None,
            subreddit_name_prefixed=None,
            num_comments=None,
            parent_id=first,
            context="",
            was_comment=False,
            score=0,
            first_message_name=first,
            first_message=int(first[3:], 36) if first else None,
        )
    data.update(extra)
    return data


# Keys every listing comment/submission carries with a constant value in the simulator.
_LISTED = dict.fromkeys(
    (
        "approved_by",
        "author_flair_css_class",
        "author_flair_text",
        "banned_by",
        "distinguished",
        "likes",
        "num_reports",
        "removal_reason",
        "report_reasons",
    ),
)
_LISTED.update(
    archived=False,
    downs=0,
    edited=False,
    gilded=0,
    num_comments=0,
    over_18=False,
    quarantine=False,
    saved=False,
    score=1,
    stickied=False,
    subreddit_id="t5_sim",
    ups=1,
)
_SUBMITTED = dict(
    selftext_html=None,
    is_self=True,
    locked=False,
    hidden=False,
    spoiler=False,
    visited=False,
    clicked=False,
    hide_score=False,
    contest_mode=False,
    thumbnail="self",
)


def listing_thing(
    state: SimState, kind: str, sub: str, author: str, text: str, **extra: Any
) -> Json:
    """A comment of ``r/<sub>/comments`` (t1) or a submission of ``r/<sub>/new`` (t3)."""
    ident, now = _id(state), extra.pop("created_utc", time.time())
    data: Json = {
        **_LISTED,
        "author": author,
        "created": now,
        "created_utc": now,
        "id": ident,
        "mod_reports": [],
        "user_reports": [],
        "name": f"{kind}_{ident}",
        "subreddit": sub,
    }
    if kind == "t1":
        link = extra.pop("link_id", f"t3_{_id(state)}")
        data.update(
            body=text,
            body_html=_html(text),
            controversiality=0,
            link_id=link,
            parent_id=extra.pop("parent_id", link),
            replies="",
            score_hidden=False,
            link_title="A post",
            link_author="someone",
            link_url="https://example.invalid/",
            link_permalink=f"https://www.reddit.com/r/{sub}/comments/{link[3:]}/a_post/",
            subreddit_name_prefixed=f"r/{sub}",
            subreddit_type="public",
        )
    else:
        data.update(
            _SUBMITTED,
            title=text,
            selftext=extra.pop("selftext", ""),
            domain=f"self.{sub}",
            permalink=f"/r/{sub}/comments/{ident}/a_post/",
            url=f"https://www.reddit.com/r/{sub}",
        )
    data.update(extra)
    return data


def listing(children: list[Json], query: Any) -> Json:
    """Newest first, with ``limit``, ``after`` and ``before`` as Reddit pages them."""
    limit = min(int(query.get("limit", 25)), 100)
    names = [c["name"] for c in children]
    items = children
    if "after" in query:
        items = items[names.index(query["after"]) + 1 :] if query["after"] in names else []
    elif "before" in query:
        items = items[: names.index(query["before"])] if query["before"] in names else []
    page = items[:limit]
    return {
        "kind": "Listing",
        "data": {
            "after": page[-1]["name"] if len(items) > limit else None,
            "dist": len(page),
            "modhash": None,
            "geo_filter": "",
            "before": None,
            "children": [
                c["_raw"] if "_raw" in c else {"kind": kind_of(c), "data": c} for c in page
            ],
        },
    }


def kind_of(data: Json) -> str:
    return str(data["name"]).partition("_")[0]


def newest_first(items: list[Json]) -> list[Json]:
    return sorted(items, key=lambda d: (d["created_utc"], int(d["id"], 36)), reverse=True)


def our_comment(state: SimState, parent: Json, text: str) -> Json:
    """What POST /api/comment returns (and user/<me>/comments lists) for a reply to a t1/t3."""
    sub = parent.get("subreddit") or "brand"
    link = parent.get("link_id") or (parent["name"] if kind_of(parent) == "t3" else None)
    if link is None:  # an inbox comment: its submission is in the context path
        link = (
            "t3_" + str(parent.get("context", "/comments/0/")).split("/comments/")[1].split("/")[0]
        )
    data = listing_thing(
        state, "t1", sub, state.username, text, link_id=link, parent_id=parent["name"]
    )
    data["likes"] = True
    return data


def our_message(state: SimState, parent: Json, text: str) -> Json:
    """What POST /api/comment returns (and message/sent lists) for a reply to a t4."""
    first = parent.get("first_message_name") or parent["name"]
    data = inbox_thing(
        state,
        "t4",
        state.username,
        text,
        type="unknown",
        first_message_name=first,
        subject=f"re: {parent.get('subject', '')}",
        dest=parent.get("author") or "[deleted]",
    )
    data.update(parent_id=parent["name"], new=False)
    return data
