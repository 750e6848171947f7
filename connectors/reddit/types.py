"""Reddit's wire format, as far as the connector reads it. Never leaves this package.

Shapes checked against the PRAW project's recorded cassettes (``message/unread``,
``message/mentions``, ``message/messages``, ``r/<sub>/comments``, ``r/<sub>/new``,
``api/comment``). Every key is optional here because Reddit omits or nulls fields for
deleted authors, subreddit messages and old items; the parser checks what it needs.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ThingData(TypedDict, total=False):
    """The ``data`` of a t1 (comment), t3 (submission) or t4 (message) thing."""

    id: str
    name: str  # fullname: "t1_abc"
    author: str | None
    author_fullname: str
    created_utc: float
    body: str  # t1, t4
    title: str  # t3
    selftext: str  # t3
    subject: str  # inbox items
    type: str  # inbox items: username_mention, comment_reply, post_reply, unknown
    was_comment: bool  # inbox items: True for t1 in the inbox
    new: bool  # inbox items: unread
    context: str  # inbox t1: "/r/sub/comments/<link>/<slug>/<id>/?context=3"
    parent_id: str | None
    link_id: str  # listing t1: the submission
    first_message_name: str | None  # t4 replies: the conversation's first message
    subreddit: str | None
    permalink: str
    distinguished: str | None
    dest: str
    replies: Any  # "" or a Listing of t4 replies


class Thing(TypedDict):
    kind: str
    data: ThingData


class ListingData(TypedDict, total=False):
    after: str | None
    before: str | None
    dist: int | None
    children: list[Thing]


class Listing(TypedDict):
    kind: str  # "Listing"
    data: ListingData


class ApiErrors(TypedDict, total=False):
    errors: list[list[str]]
    data: dict[str, Any]


class ApiResponse(TypedDict):
    """The body of POST /api/comment and friends: ``{"json": {"errors": [], "data": ...}}``."""

    json: ApiErrors
