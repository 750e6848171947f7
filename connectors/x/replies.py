"""Replies out: tweets in the customer's thread, DMs in their conversation, no double post.

A write that timed out or got a 5xx may still have been stored by X. Posting again would
answer the customer twice, so before each retry of such a write (and after X refuses a
tweet as duplicate content) we look for the reply among our own recent posts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from bot.errors import ConnectorError, RateLimited, TransientError
from connectors.base import Health, Kind, Outbound, SentRef
from connectors.x import parse, polling
from connectors.x.parse import Identity
from connectors.x.settings import XSettings
from connectors.x.text import comparable, trim_dm, trim_tweet
from connectors.x.transport import DuplicateContent, MaybePosted, XApi

log = logging.getLogger(__name__)

# What a 403 on the DM endpoints means (MissingPermission, not refused credentials): the app
# or its user token lacks X's "Read and write and Direct message" permission.
DM_PERMISSION = "Direct Message"


@dataclass(frozen=True, slots=True)
class Refusal:
    """What to tell the operator when X refuses one kind of reply for want of a permission."""

    noun: str  # "DM", "tweet"
    replies: str  # "DM replies", "Tweet replies" (a health reason starts with it)
    cause: str  # what X's 403 says about the app
    goes_on: str  # what still works meanwhile
    grant: str  # the app permission to give in the developer portal

    @property
    def advice(self) -> str:
        return (
            f"in the X developer portal give the app the '{self.grant}' permission and "
            "regenerate the user access token"
        )


DM_REFUSED = Refusal(
    "DM",
    "DM replies",
    "the app's permissions or access tier do not cover DMs",
    "replies to tweets go on",
    "Read and write and Direct message",
)
TWEETS_REFUSED = Refusal(  # X's 403 oauth1-permissions on POST /2/tweets: WRITE_PERMISSION
    "tweet",
    "Tweet replies",
    "the app (or a user token generated before its permission changed) is read-only",
    "mentions and searches are still read",
    "Read and write",
)


class Replier:
    """Posts one Outbound, with retries that never duplicate, and finds earlier posts."""

    def __init__(self, api: XApi, me: Identity, settings: XSettings, health: Health) -> None:
        self._api = api
        self._me = me
        self._settings = settings
        self._health = health
        # Outbox rows whose last attempt may have been posted: look before posting again.
        self._uncertain: set[str] = set()

    async def send(self, reply: Outbound) -> SentRef:
        """Short retries here; a long rate-limit wait goes back to the daemon's sender as
        RateLimited, so one platform's 15-minute window never holds up the others' replies."""
        key = reply.idempotency_key
        retrying = AsyncRetrying(
            retry=retry_if_exception(self._retry_here),
            wait=self._api.wait,
            stop=stop_after_attempt(self._settings.retry_attempts),
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if key in self._uncertain and (earlier := await self.find_sent(reply)):
                    log.info("X reply %s was already posted as %s", key, earlier.external_id)
                    self._uncertain.discard(key)
                    return earlier
                try:
                    ref = await self._post(reply)
                except MaybePosted:
                    self._uncertain.add(key)
                    raise
                except DuplicateContent:
                    earlier = await self.find_sent(reply)
                    if earlier is None:
                        raise
                    ref = earlier
                self._uncertain.discard(key)
                return ref
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _retry_here(self, exc: BaseException) -> bool:
        if isinstance(exc, RateLimited) and exc.reset_at is not None:
            wait = (exc.reset_at - datetime.now(UTC)).total_seconds()
            return wait <= self._settings.backoff_max_seconds
        return isinstance(exc, TransientError)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self._health.error(str(exc))
        log.warning("X send failed (attempt %d): %s", state.attempt_number, exc)

    async def _post(self, reply: Outbound) -> SentRef:
        if reply.kind is Kind.DM:
            return await self._post_dm(reply)
        target = reply.in_reply_to or reply.thread
        if not target.isdigit():
            raise ConnectorError("X reply: in_reply_to/thread is not a tweet id")
        payload = await self._api.once(
            "create tweet",
            self._api.writer.create_tweet,
            write=True,
            text=trim_tweet(reply.text),
            in_reply_to_tweet_id=target,
        )
        created = payload.get("data") or {}
        tweet_id = created.get("id") if isinstance(created, dict) else None
        if not isinstance(tweet_id, str):
            raise ConnectorError("X create tweet: the answer has no tweet id")
        log.info(
            "X reply %s posted as tweet %s (reply to %s)", reply.idempotency_key, tweet_id, target
        )
        return SentRef(tweet_id, self._url(tweet_id))

    async def _post_dm(self, reply: Outbound) -> SentRef:
        participant = self._participant(reply)
        where: dict[str, Any]
        if participant is not None:
            where = {"participant_id": participant}
        elif reply.thread:
            where = {"dm_conversation_id": reply.thread}  # a group conversation
        else:
            raise ConnectorError("X DM: no participant id and no conversation id")
        payload = await self._api.once(
            "send DM",
            self._api.writer.create_direct_message,
            write=True,
            needs_permission=DM_PERMISSION,
            text=trim_dm(reply.text),
            **where,
        )
        created = payload.get("data") or {}
        event_id = created.get("dm_event_id") if isinstance(created, dict) else None
        if not isinstance(event_id, str):
            raise ConnectorError("X send DM: the answer has no dm_event_id")
        log.info("X reply %s sent as DM event %s", reply.idempotency_key, event_id)
        return SentRef(event_id)

    def _participant(self, reply: Outbound) -> str | None:
        return (
            reply.recipient_id
            or reply.meta.get("participant_id")
            or parse.other_participant(reply.thread, self._me.user_id)
        )

    def _url(self, tweet_id: str) -> str:
        handle = self._me.handle or "i/web"
        return f"https://x.com/{handle}/status/{tweet_id}"

    # -- reconciliation ------------------------------------------------------------------

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Our post answering the same message with the same text, if X already has it.

        Tweets: our own timeline since the answered tweet (GET /2/users/:id/tweets), a
        ``replied_to`` reference to it and the same text. DMs: the conversation with the
        participant, an event from us newer than the answered one with the same text.
        """
        want = comparable(trim_dm(reply.text) if reply.kind is Kind.DM else trim_tweet(reply.text))
        if reply.kind is Kind.DM:
            return await self._find_dm(reply, want)
        return await self._find_tweet(reply, want)

    async def _find_tweet(self, reply: Outbound, want: str) -> SentRef | None:
        target = reply.in_reply_to or reply.thread
        if not target.isdigit():
            return None
        params = {
            "id": self._me.user_id,
            "since_id": target,  # our answer is newer than the tweet it answers
            "tweet_fields": ["referenced_tweets", "conversation_id", "created_at"],
            "user_auth": self._api.reads_use_user_auth,
        }
        scan = self._scan("own tweets", self._api.reader.get_users_tweets, params)
        async with aclosing(scan):
            async for tweet in scan:
                if _answers(tweet, target) and comparable(str(tweet.get("text", ""))) == want:
                    return SentRef(str(tweet["id"]), self._url(str(tweet["id"])))
        return None

    async def _find_dm(self, reply: Outbound, want: str) -> SentRef | None:
        participant = self._participant(reply)
        if participant is None:
            return None
        after = int(reply.in_reply_to) if reply.in_reply_to and reply.in_reply_to.isdigit() else 0
        params = {
            "participant_id": participant,
            "dm_event_fields": list(parse.DM_EVENT_FIELDS),
            "event_types": parse.MESSAGE_CREATE,
        }
        call = self._api.reader.get_direct_message_events
        scan = self._scan("DM lookup", call, params, needs_permission=DM_PERMISSION)
        async with aclosing(scan):
            async for event in scan:
                ident = str(event.get("id", ""))
                if not ident.isdigit() or int(ident) <= after:
                    return None  # newest first: the rest is older than the message answered
                ours = event.get("sender_id") == self._me.user_id
                if ours and comparable(str(event.get("text", ""))) == want:
                    return SentRef(ident)
        return None

    async def _scan(
        self, what: str, call: Any, params: dict[str, Any], needs_permission: str | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Items newest first, page after page, up to ``find_sent_lookback`` of them."""
        budget = self._settings.find_sent_lookback
        size = max(5, min(100, budget))
        fetch = partial(self._api.read, what, call, needs_permission=needs_permission)
        pages = polling.pages(fetch, what, {**params, "max_results": size}, "pagination_token")
        async with aclosing(pages):
            async for payload in pages:
                for item in _items(payload):
                    yield item
                    budget -= 1
                    if budget <= 0:
                        return


def _answers(tweet: dict[str, Any], target: str) -> bool:
    refs = tweet.get("referenced_tweets") or []
    return any(
        isinstance(r, dict) and r.get("type") == "replied_to" and r.get("id") == target
        for r in refs
    )


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    data = payload.get("data") or []
    return (
        [item for item in data if isinstance(item, dict) and "id" in item]
        if isinstance(data, list)
        else []
    )
