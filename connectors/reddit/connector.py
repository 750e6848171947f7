"""The Reddit connector: inbox and subreddit listening in, comment/message replies out.

Delivery guarantees:

* Inbox items (mentions, private messages, comment and post replies) are read from
  ``message/unread`` without marking them read; they are marked read in :meth:`committed`,
  i.e. after the daemon stored them. Unread state is the inbox cursor: after a crash the
  uncommitted items are simply still unread and come back.
* Subreddit comments and submissions carry a cursor per listing (``r/<sub>/comments``,
  ``r/<sub>/new``) holding the newest fullname yielded; Reddit ids grow with time, so a
  restart reads everything newer than the stored one.
* A reply that failed ambiguously (timeout, 5xx, bad body) is looked for in our account's
  recent comments or sent messages before it is posted again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import praw
from tenacity import RetryCallState

from bot.errors import AuthError, BotError, ConfigError, RateLimited, TransientError
from connectors.base import BaseConnector, ConnectorContext, Inbound, Outbound, SentRef
from connectors.reddit import replies
from connectors.reddit.client import RedditClient
from connectors.reddit.parse import (
    MalformedPayload,
    ParseContext,
    inbox_item,
    listing_children,
    subreddit_item,
    thing_name,
)
from connectors.reddit.settings import RedditSettings, load_credentials
from connectors.reddit.types import Thing
from connectors.reddit.watch import SubredditWatch

log = logging.getLogger(__name__)
T = TypeVar("T")

_SWITCH = {
    "username_mention": "mentions",
    "message": "messages",
    "comment_reply": "comment_replies",
    "post_reply": "post_replies",
}
_REMEMBER_MARKED = 2000
_MARK_BATCH = 25  # Reddit's limit per api/read_message call


class RedditConnector(BaseConnector):
    """Reddit through praw (blocking, so it runs in a worker thread)."""

    settings_model = RedditSettings
    max_length = 10_000
    # Reddit: 60 requests per minute per OAuth client, shared with reading: replies take a
    # third (bursts of 20 plus 20 a minute still leave polling its share in any minute).
    send_rate_per_minute = 20.0

    def __init__(self, settings: RedditSettings, ctx: ConnectorContext) -> None:
        super().__init__(settings, ctx)
        self.settings: RedditSettings = settings
        self._parse = ParseContext.create(ctx.name, settings.username, settings.known_bots)
        self._client: RedditClient | None = None
        self._inflight: set[str] = set()  # inbox items yielded, not yet committed
        self._to_mark: set[str] = set()  # committed, not yet marked read on Reddit
        self._marked: OrderedDict[str, None] = OrderedDict()  # recently marked read
        self._skipped: set[str] = set()  # malformed items already logged
        self._watch = SubredditWatch(settings)

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Check the credentials with GET /api/v1/me and load the subreddit cursors.

        The daemon calls this again after a failure while its sender may be mid-reply, so
        the client (worker thread, HTTP session) is kept; only the checks run again.
        """
        self._inflight.clear()  # a new listen() may yield uncommitted items again
        me = await self._retry(lambda r: r.request(method="GET", path="api/v1/me"))
        account = me.get("name") if isinstance(me, dict) else None
        if isinstance(account, str) and account.lower() != self._parse.username.lower():
            log.warning(
                "reddit %s: credentials belong to u/%s, config says u/%s; u/%s counts as self",
                self.name,
                account,
                self.settings.username,
                account,
            )
            self._parse = ParseContext.create(self.name, account, self.settings.known_bots)
        for key in await self._watch.load(self.name, self.ctx.cursors):
            log.warning("reddit %s: ignoring unreadable cursor %s", self.name, key)
        log.info("reddit %s: connected as u/%s", self.name, self._parse.username)

    async def close(self) -> None:
        if self._client is not None:
            await self._flush_marks()  # best effort: what stays unread comes back next run
            await self._client.close()
            self._client = None
        await super().close()

    # -- calls and health ------------------------------------------------------------------

    def _require_client(self) -> RedditClient:
        """The client, created on first use: the daemon may reconcile before connecting."""
        if self._client is None:
            try:
                credentials = load_credentials(self.settings, self.name)
            except ConfigError as exc:
                self._health.token_valid = False
                self._health.error(str(exc), fatal=True)
                log.error("reddit %s: %s", self.name, exc)
                raise
            self._client = RedditClient(self.settings, credentials, self.name)
            self._client.on_budget_wait = lambda reset: self._health.rate_limited(0, reset)
        return self._client

    def _on_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        if isinstance(exc, RateLimited):
            self._health.rate_limited(0, exc.reset_at)
            log.warning("reddit %s: rate limited (%s), waiting %.1fs", self.name, exc, delay)
        else:
            self._health.error(str(exc))
            log.warning(
                "reddit %s: %s; retry %d in %.1fs", self.name, exc, state.attempt_number, delay
            )

    def _ok(self) -> None:
        self._health.success()
        self._health.token_valid = True
        budget = self._require_client().budget
        self._health.rate_limit_remaining = budget.remaining
        self._health.rate_limit_reset = budget.reset_at

    def _down(self, exc: AuthError) -> None:
        self._health.token_valid = False
        self._health.error(str(exc), fatal=True)
        log.error(
            "reddit %s: %s; check %s/%s and the account's %s - connector marked down",
            self.name,
            exc,
            self.settings.client_id_env,
            self.settings.client_secret_env,
            self.settings.password_env
            if self.settings.auth == "password"
            else self.settings.refresh_token_env,
        )

    async def _guarded(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run ``step`` under the retry policy, keeping health and the auth log line right."""
        client = self._require_client()
        try:
            async for attempt in client.retrying(self._on_retry):
                with attempt:
                    result = await step()
        except AuthError as exc:
            self._down(exc)
            raise
        except BotError as exc:
            self._health.error(str(exc))
            raise
        self._ok()
        return result

    async def _retry(self, fn: Callable[[praw.Reddit], T]) -> T:
        """``fn`` in the worker thread under the retry policy."""
        client = self._require_client()
        return await self._guarded(lambda: client.call(fn))

    async def _listing(
        self, path: str, params: dict[str, str | int]
    ) -> tuple[list[Thing], str | None]:
        """GET a Listing; a body of the wrong shape is retried like a 5xx, then given up."""
        client = self._require_client()

        own = path.startswith("message/")  # a 403 on a subreddit concerns that subreddit only

        async def step() -> tuple[list[Thing], str | None]:
            body = await client.call(
                lambda r: r.request(method="GET", path=path, params=params), forbidden_is_auth=own
            )
            try:
                return listing_children(body)
            except MalformedPayload as exc:
                raise TransientError(f"malformed listing from {path}: {exc}") from None

        return await self._guarded(step)

    # -- listening ---------------------------------------------------------------------------

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        """Poll the inbox and the subreddits; with ``follow`` forever, else once."""
        while True:
            wait = self.settings.poll_interval
            try:
                async for item in self._poll():
                    yield item
            except AuthError:
                raise
            except BotError as exc:
                if not follow:
                    raise
                if isinstance(exc, RateLimited) and exc.reset_at is not None:
                    wait = max(wait, (exc.reset_at - datetime.now(UTC)).total_seconds())
                log.warning("reddit %s: poll failed (%s); next poll in %.1fs", self.name, exc, wait)
            if not follow:
                return
            await asyncio.sleep(wait)

    async def _poll(self) -> AsyncIterator[Inbound]:
        """One pass over every source; a failing source does not stop the others."""
        await self._flush_marks()
        sources: list[Callable[[], AsyncIterator[Inbound]]] = []
        if self.settings.inbox:
            sources.append(self._poll_inbox)
        for key in self._watch.keys:
            sources.append(functools.partial(self._poll_listing, key))
        failures: list[BotError] = []
        for source in sources:
            try:
                async for item in source():
                    yield item
            except AuthError:
                raise
            except BotError as exc:
                failures.append(exc)
        await self._flush_marks()  # runs once the consumer has committed the last item
        if failures:
            raise failures[0]

    async def _pages(self, path: str, stop: Callable[[list[Thing]], bool]) -> list[Thing]:
        """Newest-first pages of a listing until ``stop(page)`` or ``max_pages``."""
        things: list[Thing] = []
        after: str | None = None
        for _ in range(self.settings.max_pages):
            params: dict[str, str | int] = {"limit": self.settings.page_size}
            if path.startswith("message/"):
                params["mark"] = "false"
            if after:
                params["after"] = after
            page, after = await self._listing(path, params)
            things.extend(page)
            if after is None or stop(page):
                break
        return things

    def _skip(self, thing: Any, exc: MalformedPayload) -> None:
        name = thing_name(thing) or "?"
        if name not in self._skipped:
            self._skipped.add(name)
            self._health.errors += 1
            log.warning("reddit %s: skipped malformed item %s (%s)", self.name, name, exc)

    async def _poll_inbox(self) -> AsyncIterator[Inbound]:
        things = await self._pages("message/unread/", lambda page: False)
        for thing in reversed(things):  # oldest first
            name = thing_name(thing)
            if name is None:
                self._skip(thing, MalformedPayload("no name"))
                continue
            if name in self._inflight or name in self._to_mark or name in self._marked:
                continue  # yielded and not stored yet, or stored and (being) marked read
            try:
                item = inbox_item(thing, self._parse)
            except MalformedPayload as exc:
                self._skip(thing, exc)
                continue
            if not getattr(self.settings, _SWITCH.get(item.meta["reddit_type"], "comment_replies")):
                continue
            self._inflight.add(name)
            yield item

    async def _poll_listing(self, key: str) -> AsyncIterator[Inbound]:
        watch = self._watch
        things = await self._pages(key, lambda page: any(watch.is_old(key, t) for t in page))
        for thing in watch.fresh(key, things):
            try:
                item = subreddit_item(thing, self._parse, key)
            except MalformedPayload as exc:
                self._skip(thing, exc)
            else:
                if watch.wanted(item.text):
                    yield item
            watch.advance(key, thing)

    # -- after storage -----------------------------------------------------------------------

    async def committed(self, item: Inbound) -> None:
        """The daemon stored ``item``: now (never earlier) it may be marked read.

        Marks are batched (25 per request, Reddit's maximum) and sent when 25 are waiting,
        at the end of each poll pass and at close: one request per item would spend the
        whole rate budget (about 100 requests a minute) on a burst of a few hundred items.
        """
        if item.meta.get("source") != "inbox":
            return
        self._inflight.discard(item.external_id)
        self._to_mark.add(item.external_id)
        if len(self._to_mark) >= _MARK_BATCH:
            await self._flush_marks()

    async def _flush_marks(self) -> None:
        """Mark committed items read; a failure leaves them for the next poll to retry."""
        while self._to_mark:
            batch = sorted(self._to_mark)[:_MARK_BATCH]
            try:
                await self._retry(functools.partial(replies.mark_read, names=batch))
            except BotError as exc:
                log.warning(
                    "reddit %s: could not mark %d item(s) read (%s); retrying at next poll",
                    self.name,
                    len(batch),
                    exc,
                )
                return
            for name in batch:
                self._to_mark.discard(name)
                self._marked[name] = None
            while len(self._marked) > _REMEMBER_MARKED:
                self._marked.popitem(last=False)

    # -- replies ------------------------------------------------------------------------------

    async def send(self, reply: Outbound) -> SentRef:
        """Reply under ``in_reply_to`` (else ``thread``): comment.reply / message.reply."""
        target = replies.target_of(reply)
        text = reply.text[: self.max_length]
        client = self._require_client()
        ambiguous = False

        async def step() -> SentRef | None:
            nonlocal ambiguous
            if ambiguous and (found := await self._find(target, text)) is not None:
                log.info("reddit %s: reply to %s was already posted", self.name, target)
                return found
            try:
                posted: SentRef | None = await client.call(
                    lambda r: replies.post(r, target, text), forbidden_is_auth=False
                )
            except TransientError as exc:  # the reply may be posted unless Reddit said wait
                ambiguous = ambiguous or not isinstance(exc, RateLimited)
                raise
            return posted

        sent = await self._guarded(step)
        if sent is None:  # Reddit posted but returned nothing (quarantined subreddit)
            sent = await self._find(target, text) or SentRef(external_id="unknown")
        return sent

    async def _find(self, target: str, text: str) -> SentRef | None:
        depth, me = self.settings.find_sent_depth, self._parse.username
        if depth == 0:
            return None
        found: SentRef | None = await self._require_client().call(
            lambda r: replies.find(r, me, target, text, depth)
        )
        return found

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Our recent comments / sent messages: one under the target with the same text?"""
        target = replies.target_of(reply)
        depth, me = self.settings.find_sent_depth, self._parse.username
        if depth == 0:
            return None
        text = reply.text[: self.max_length]
        found: SentRef | None = await self._retry(
            lambda r: replies.find(r, me, target, text, depth)
        )
        return found
