"""The X (Twitter) connector: mentions, brand searches and DMs in; replies and DMs out.

Polling, not streaming: X's filtered stream needs a higher access level and gives no
backfill, while mentions/search/dm_events can be re-read from a stored id after an outage.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from time import monotonic
from typing import Any, TypeVar

from bot.errors import AuthError, ConfigError, ConnectorError
from connectors.base import (
    BaseConnector,
    ConnectorContext,
    Health,
    Inbound,
    Kind,
    Outbound,
    SentRef,
)
from connectors.x import parse, polling
from connectors.x.parse import Identity
from connectors.x.replies import DM_PERMISSION, DM_REFUSED, TWEETS_REFUSED, Refusal, Replier
from connectors.x.settings import XSettings
from connectors.x.text import TWEET_LIMIT
from connectors.x.transport import Credentials, MissingPermission, XApi

log = logging.getLogger(__name__)
T = TypeVar("T")

_RECENT = 10_000  # ids remembered to drop a tweet found by both mentions and a search
# How long DMs stay paused after X refuses them with 403 (the app or its user token lacks the
# Direct Message permission) before they are tried again: mentions and searches are read
# meanwhile, and a permission fixed in the portal is picked up without a restart.
DM_RETRY_SECONDS = 30 * 60.0


@dataclass(frozen=True, slots=True)
class _Paused:
    """Why a source is not read (the health's reason), since when, and when to try again."""

    reason: str
    since: datetime
    retry_at: float = math.inf  # on the monotonic clock; inf: until something succeeds


class XConnector(BaseConnector):
    """Reads with the bearer token when there is one, writes with OAuth 1.0a user context."""

    settings_model = XSettings
    max_length = TWEET_LIMIT
    # X: POST /2/tweets 100 per 15 min per user and 10,000 per 24 h per app; DMs 200 per
    # 15 min per user. 6 a minute (bursts of 6) is at most 96 in any 15 minutes.
    send_rate_per_minute = 6.0
    settings: XSettings

    def __init__(self, settings: XSettings, ctx: ConnectorContext) -> None:
        super().__init__(settings, ctx)
        self._api: XApi | None = None
        self._me: Identity | None = None
        self._replier: Replier | None = None
        self._positions: dict[str, int | None] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._started_at = datetime.now(UTC)  # where a first start's lookback counts from
        self._connecting = asyncio.Lock()
        self._dms_paused: _Paused | None = None
        # Replies X refuses with 403 for want of a permission (sending/looking up a DM, a tweet).
        self._replies_refused: dict[Refusal, _Paused] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> None:
        """Read credentials, learn our own id if not configured. Fails fast on bad secrets.

        The daemon calls this again after a failure: the HTTP sessions and the read positions
        are kept (a reply may be in flight on them); refused credentials are checked again.
        """
        async with self._connecting:
            await self._connect()

    async def _connect(self) -> None:
        if self._api is None:
            try:
                creds = Credentials.from_env(self.settings, self.name)
            except ConfigError as exc:
                self._health.token_valid = False
                self._health.error(str(exc), fatal=True)
                raise
            self._api = XApi(self.settings, creds, self._health)
        user_id, handle = self.settings.user_id, self.settings.our_handle
        needs_identity = self._me is None and not (user_id and handle)
        if needs_identity or self._health.token_valid is False:  # also re-checks a bad token
            payload = await self._api.read(
                "users/me", self._api.reader.get_me, user_auth=True, user_fields=["username"]
            )
            data = payload.get("data") or {}
            user_id = user_id or data.get("id")
            handle = handle or data.get("username")
            if not isinstance(user_id, str) or not user_id:
                raise ConnectorError("X users/me: the answer has no user id")
        if self._me is None:
            assert user_id is not None
            self._me = Identity.build(user_id, handle, self.settings.known_bots)
            self._replier = Replier(self._api, self._me, self.settings, self._health)
            log.info("X connector %s connected as user id %s", self.name, user_id)
        self._health.success()

    async def close(self) -> None:
        if self._api is not None:
            self._api.close()
        await super().close()

    def health(self) -> Health:
        """``degraded`` with the reason while DMs are paused or tweet or DM replies refused,
        though the calls that work mark the connector ``ok``; a newer error of another kind
        is shown as it is."""
        refused, health = self._replies_refused, self._health
        paused = refused.get(TWEETS_REFUSED) or refused.get(DM_REFUSED) or self._dms_paused
        if paused is not None and health.state == "ok":
            health.state = "degraded"
            health.last_error, health.last_error_at = paused.reason, paused.since
        return health

    def _ready(self) -> tuple[XApi, Identity]:
        if self._api is None or self._me is None:
            raise ConnectorError(f"X connector {self.name}: connect() was not called")
        return self._api, self._me

    # -- inbound -------------------------------------------------------------------------

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        """Poll every enabled source; transient failures wait for the next poll."""
        while True:
            async for item in self._poll(strict=not follow):
                yield item
            if not follow:
                return
            await asyncio.sleep(self.settings.poll_interval_seconds)

    async def _poll(self, *, strict: bool) -> AsyncIterator[Inbound]:
        failure: ConnectorError | None = None
        for key, fetch in self._sources():
            try:
                batch = await fetch()
            except AuthError:
                raise
            except MissingPermission as exc:  # only the DM source reads with needs_permission
                self._pause_dms(exc)
                continue
            except ConnectorError as exc:
                self._health.error(str(exc))
                log.warning("X connector %s: %s not read this time: %s", self.name, key, exc)
                failure = failure or exc
                continue
            if key == "dms" and self._dms_paused is not None:
                self._resume_dms()
            for item in batch.items:
                if item.kind is Kind.DM or self._first_time(item.external_id):
                    yield item  # the daemon counts health.messages_in
                    self._positions[key] = int(item.external_id)
            self._advance(key, batch.newest)
        if strict and failure is not None:
            raise failure

    def _sources(self) -> list[tuple[str, Any]]:
        s = self.settings
        sources: list[tuple[str, Any]] = []
        if s.mentions:
            sources.append(("mentions", self._fetch_mentions))
        if s.dms and (self._dms_paused is None or monotonic() >= self._dms_paused.retry_at):
            sources.append(("dms", self._fetch_dms))
        if s.search:
            for query in s.search_queries:
                key = polling.search_key(query)
                sources.append((key, partial(self._fetch_search, key, query)))
        return sources

    def _pause_dms(self, exc: MissingPermission) -> None:
        """X refuses DMs only: keep reading the rest, say what to do, try again later."""
        minutes = round(DM_RETRY_SECONDS / 60)
        reason = (
            f"DMs not read, {exc}: grant the app 'Read and write and Direct message' and "
            f"regenerate the user token, or set dms = false (retried every {minutes} min)"
        )
        first = self._dms_paused is None
        self._dms_paused = _Paused(reason, datetime.now(UTC), monotonic() + DM_RETRY_SECONDS)
        self._health.error(reason)
        if not first:
            log.info(
                "X connector %s: DMs still refused (%s); next try in %d min",
                self.name,
                exc,
                minutes,
            )
            return
        log.warning(
            "X connector %s: X refuses reading DMs (%s): the app's permissions or access tier "
            "do not cover DMs. Mentions and searches are still read. In the developer portal "
            "give the app the 'Read and write and Direct message' permission and regenerate "
            "the user access token (%s, %s), or set dms = false in [connectors.%s]. "
            "DMs are tried again every %d min.",
            self.name,
            exc,
            self.settings.access_token_env,
            self.settings.access_token_secret_env,
            self.name,
            minutes,
        )

    def _resume_dms(self) -> None:
        paused, self._dms_paused = self._dms_paused, None
        log.info("X connector %s: DMs are read again", self.name)
        self._clear(paused)
        self._replies_allowed(DM_REFUSED)  # one permission covers reading and sending DMs

    def _clear(self, paused: _Paused | None) -> None:
        if paused is not None and self._health.last_error == paused.reason:
            self._health.last_error = self._health.last_error_at = None

    def _first_time(self, tweet_id: str) -> bool:
        if tweet_id in self._recent:
            return False
        self._recent[tweet_id] = None
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        return True

    def _advance(self, key: str, newest: int | None) -> None:
        current = self._positions.get(key)
        if newest is not None and (current is None or newest > current):
            self._positions[key] = newest

    async def _position(self, key: str) -> int | None:
        """In memory once read; the stored cursor (backfill after a restart) the first time."""
        if key not in self._positions:
            stored = await self.ctx.cursors.get_cursor(self.name, key)
            if stored is not None and not stored.isdigit():
                log.warning(
                    "X connector %s: ignoring a stored %s cursor that is not an id", self.name, key
                )
                stored = None
            self._positions[key] = int(stored) if stored else None
            log.info("X connector %s: %s resumes after id %s", self.name, key, stored)
        return self._positions[key]

    async def _tweet_params(self, key: str, *, horizon: datetime | None = None) -> dict[str, Any]:
        """since_id from the position, else start_time; never before ``horizon`` (search)."""
        since = await self._position(key)
        params: dict[str, Any] = {
            "expansions": list(parse.TWEET_EXPANSIONS),
            "tweet_fields": list(parse.TWEET_FIELDS),
            "user_fields": list(parse.USER_FIELDS),
        }
        if since is not None and (horizon is None or parse.snowflake_time(str(since)) > horizon):
            params["since_id"] = str(since)
            return params
        start = polling.lookback_start(self._started_at, self.settings.initial_lookback_hours)
        if horizon is not None and since is not None:
            log.warning("X %s: stored position is older than search covers; reading 7 days", key)
            start = horizon
        params["start_time"] = max(start, horizon) if horizon is not None else start
        return params

    async def _fetch_mentions(self) -> polling.Batch:
        api, me = self._ready()
        params = await self._tweet_params("mentions")
        params.update(id=me.user_id, max_results=self.settings.page_size)
        call = partial(api.read, "mentions", api.reader.get_users_mentions)
        return await polling.fetch_tweets(
            partial(call, user_auth=api.reads_use_user_auth),
            what="mentions",
            params=params,
            token_param="pagination_token",  # noqa: S106 - not a secret
            convert=partial(self._tweet, "mentions", "mentions"),
        )

    async def _fetch_search(self, key: str, query: str) -> polling.Batch:
        api, _ = self._ready()
        params = await self._tweet_params(key, horizon=polling.search_horizon())
        params.update(query=query, max_results=max(10, self.settings.page_size))
        call = partial(api.read, "search", api.reader.search_recent_tweets)
        return await polling.fetch_tweets(
            partial(call, user_auth=api.reads_use_user_auth),
            what="search",
            params=params,
            token_param="next_token",  # noqa: S106 - not a secret
            convert=lambda raw, users: self._tweet(key, "search", raw, users),
        )

    def _tweet(self, key: str, source: str, raw: Any, users: Any) -> Inbound:
        _, me = self._ready()
        return parse.tweet_to_inbound(
            raw, users, me, channel=self.name, cursor_key=key, source=source
        )

    async def _fetch_dms(self) -> polling.Batch:
        api, me = self._ready()
        since = await self._position("dms")
        not_before = None
        if since is None:
            not_before = polling.lookback_start(
                self._started_at, self.settings.initial_lookback_hours
            )
        params = {
            "dm_event_fields": list(parse.DM_EVENT_FIELDS),
            "event_types": parse.MESSAGE_CREATE,
            "expansions": list(parse.DM_EXPANSIONS),
            "user_fields": list(parse.USER_FIELDS),
            "max_results": self.settings.page_size,
        }
        read = partial(api.read, "dm_events", needs_permission=DM_PERMISSION)
        return await polling.fetch_dms(
            partial(read, api.reader.get_direct_message_events),
            params=params,
            since=since,
            not_before=not_before,
            convert=lambda raw, users: parse.dm_to_inbound(
                raw, users, me, channel=self.name, cursor_key="dms"
            ),
        )

    # -- outbound ------------------------------------------------------------------------

    async def _replies(self) -> Replier:
        """The sender may run (reconcile at start-up) before ingest has connected us."""
        async with self._connecting:
            if self._replier is None:
                await self._connect()
        assert self._replier is not None
        return self._replier

    async def send(self, reply: Outbound) -> SentRef:
        """A tweet replying to ``in_reply_to`` (280 weighted chars) or a DM to the author.

        A reply X refuses for want of a permission (DMs: Direct Message; tweets: Read and
        write, the app being read-only) raises a plain ``ConnectorError``: the sender gives
        that reply up (its ticket records why); reading goes on."""
        replier = await self._replies()
        return await self._through_permission(reply, replier.send(reply), proves=True)

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Crash reconciliation: our post answering the same message with the same text.

        A DM lookup refused for want of the permission is a ``ConnectorError`` (the platform
        cannot tell), never refused credentials."""
        replier = await self._replies()
        # Reading DMs needs the permission sending them does; reading our tweets proves nothing.
        proves = reply.kind is Kind.DM
        return await self._through_permission(reply, replier.find_sent(reply), proves=proves)

    async def _through_permission(self, reply: Outbound, call: Awaitable[T], *, proves: bool) -> T:
        """``call``'s result; a refused permission becomes the reply's ConnectorError, and a
        call that ``proves`` the permission is back clears the health reason."""
        refusal = DM_REFUSED if reply.kind is Kind.DM else TWEETS_REFUSED
        try:
            result = await call
        except MissingPermission as exc:
            raise self._reply_refused(refusal, exc) from None
        if proves:
            self._replies_allowed(refusal)
        return result

    def _reply_refused(self, refusal: Refusal, exc: MissingPermission) -> ConnectorError:
        """Health ``degraded`` with what to do, one WARNING, and the reason for the reply."""
        reason = f"{refusal.replies} refused, {exc}: {refusal.advice}"
        first = refusal not in self._replies_refused
        self._replies_refused[refusal] = _Paused(reason, datetime.now(UTC))
        self._health.error(reason)
        if first:
            log.warning(
                "X connector %s: X refuses our %ss (%s): %s. %s fail and their tickets need an "
                "answer by another channel; %s. In the developer portal give the app the '%s' "
                "permission and regenerate the user access token (%s, %s).",
                self.name,
                refusal.noun,
                exc,
                refusal.cause,
                refusal.replies,
                refusal.goes_on,
                refusal.grant,
                self.settings.access_token_env,
                self.settings.access_token_secret_env,
            )
        else:
            log.info("X connector %s: %s still refused (%s)", self.name, refusal.replies, exc)
        return ConnectorError(
            f"X refused the {refusal.noun}: the app lacks the {exc.permission} permission "
            f"({exc.what}: {exc.reason}); {refusal.advice}"
        )

    def _replies_allowed(self, refusal: Refusal) -> None:
        refused = self._replies_refused.pop(refusal, None)
        if refused is not None:
            log.info("X connector %s: %ss are accepted again", self.name, refusal.noun)
            self._clear(refused)
