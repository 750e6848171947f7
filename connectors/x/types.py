"""X API v2 wire shapes, as the recorded exchanges and the API reference show them.

These TypedDicts never leave ``connectors.x``: the rest of socialbot only sees
:class:`connectors.base.Inbound`. ``total=False`` because X omits every field that was not
requested (and sometimes one that was, e.g. a suspended author missing from ``includes``).
"""

from __future__ import annotations

from typing import TypedDict


class UserPayload(TypedDict, total=False):
    id: str
    name: str
    username: str


class ReferencedTweet(TypedDict, total=False):
    type: str  # replied_to | quoted | retweeted
    id: str


class TweetPayload(TypedDict, total=False):
    id: str
    text: str
    edit_history_tweet_ids: list[str]
    author_id: str
    created_at: str  # ISO 8601, e.g. 2022-10-07T22:43:18.000Z
    conversation_id: str
    in_reply_to_user_id: str
    referenced_tweets: list[ReferencedTweet]


class DmEventPayload(TypedDict, total=False):
    id: str
    event_type: str  # MessageCreate | ParticipantsJoin | ParticipantsLeave
    text: str
    sender_id: str
    dm_conversation_id: str
    created_at: str
    participant_ids: list[str]


class Includes(TypedDict, total=False):
    users: list[UserPayload]
    tweets: list[TweetPayload]


class PageMeta(TypedDict, total=False):
    result_count: int
    newest_id: str
    oldest_id: str
    next_token: str
    previous_token: str


class ApiError(TypedDict, total=False):
    title: str
    detail: str
    type: str
    value: str
    resource_id: str


class TweetPage(TypedDict, total=False):
    """GET /2/users/:id/mentions, /2/users/:id/tweets, /2/tweets/search/recent."""

    data: list[TweetPayload]
    includes: Includes
    errors: list[ApiError]
    meta: PageMeta


class DmPage(TypedDict, total=False):
    """GET /2/dm_events and /2/dm_conversations/with/:participant_id/dm_events."""

    data: list[DmEventPayload]
    includes: Includes
    errors: list[ApiError]
    meta: PageMeta


class UserResponse(TypedDict, total=False):
    """GET /2/users/me."""

    data: UserPayload


class CreatedTweet(TypedDict, total=False):
    id: str
    text: str


class CreatedTweetResponse(TypedDict, total=False):
    """POST /2/tweets (201)."""

    data: CreatedTweet


class CreatedDm(TypedDict, total=False):
    dm_conversation_id: str
    dm_event_id: str


class CreatedDmResponse(TypedDict, total=False):
    """POST /2/dm_conversations/with/:participant_id/messages (201)."""

    data: CreatedDm
