"""The Discord connector: mentions in watched channels and DMs in, replies in place out.

discord.py owns the gateway (heartbeats, RESUME, re-IDENTIFY with its own backoff) and
sleeps through 429s; this class adds what a customer-care daemon needs on top: cursors
per channel, a history backfill after every (re)connect, one offer per message, retries
for 5xx and dropped connections, and health the CLI can show.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import discord

from bot.errors import AuthError, ConnectorError
from connectors.base import (
    BaseConnector,
    ConnectorContext,
    ConnectorSettings,
    Inbound,
    Kind,
    Outbound,
    SentRef,
    env_secret,
)
from connectors.discord.client import ConnectorClient
from connectors.discord.errors import call_with_retries, map_error
from connectors.discord.feed import Feed
from connectors.discord.parse import jump_url
from connectors.discord.settings import DiscordSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Replies may ping the customer they answer, never @everyone, roles or other users.
_REPLY_MENTIONS = discord.AllowedMentions(
    everyone=False, users=False, roles=False, replied_user=True
)


class DiscordConnector(BaseConnector):
    """One bot account: watched guild channels (mentions) and direct messages."""

    settings_model: ClassVar[type[ConnectorSettings]] = DiscordSettings
    max_length = 2000
    # Discord: 5 messages per 5 s per channel. One at a time, 0.8 a second: at most 5 in
    # any 5 seconds even when every reply goes to the same channel.
    send_rate_per_minute = 48.0
    send_burst = 1.0

    def __init__(self, settings: Any, ctx: ConnectorContext) -> None:
        super().__init__(settings, ctx)
        self.settings: DiscordSettings = settings
        self._client: ConnectorClient | None = None
        self._feed = Feed(self.name, settings, self._health, self._call)
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: ConnectorError | None = None
        self._cursors_loaded = False
        self._gateway_up = asyncio.Event()

    @property
    def client(self) -> discord.Client:
        """The logged-in discord.py client, for the agent desk's commands and staff channel."""
        if self._client is None:
            raise ConnectorError(f"discord connector {self.name!r} is not connected")
        return self._client

    async def wait_ready(self) -> None:
        """Until the gateway is up and the backfill it triggered is done.

        For callers that need a settled connector (the agent desk registering commands,
        tests); the daemon does not need it. Raises the failure if the gateway died.
        """
        while True:
            if self._failure is not None:
                raise self._failure
            await self._gateway_up.wait()
            await self._feed.idle.wait()
            if self._failure is None and self._gateway_up.is_set() and self._feed.idle.is_set():
                return

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        """Log in over REST (checks the token) and load cursors; the gateway starts in listen.

        Idempotent while healthy; after a fatal failure it starts over with a fresh client
        (the daemon calls it again when it retries), keeping positions learnt so far.
        """
        if self._client is not None and self._failure is None:
            return
        await self._teardown()
        self._failure = None
        token = env_secret(self.settings.token_env)
        if token is None:
            raise self._fail(
                AuthError(
                    f"environment variable {self.settings.token_env} (Discord bot token) is not set"
                )
            )
        try:
            self._client = await self._call("login", lambda: self._login(token.get_secret_value()))
        except AuthError as exc:
            raise self._fail(exc) from None
        except ConnectorError as exc:
            self._health.error(str(exc))
            raise
        user = self._client.user
        assert user is not None
        self._feed.attach(self._client, user.id)
        self._health.token_valid = True
        self._health.success()
        log.info("discord %s logged in as bot user id=%s", self.name, user.id)
        if not self._cursors_loaded:
            await self._feed.load_cursors(self.ctx.cursors)
            self._cursors_loaded = True

    async def _login(self, token: str) -> ConnectorClient:
        """One attempt on a fresh client, closed again when it fails: no leaked sessions."""
        client = ConnectorClient(self.settings, self)
        try:
            await client.login(token)
        except BaseException:
            await client.close()
            raise
        return client

    async def close(self) -> None:
        await self._teardown()
        await super().close()

    async def _teardown(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._client is not None:
            await self._client.close()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._client = None
        self._gateway_up.clear()
        self._feed.drop_stop_marks()

    def _fail(self, exc: ConnectorError) -> ConnectorError:
        """Record a failure that retrying cannot fix: health down, one clear log line."""
        self._failure = exc
        self._gateway_up.set()  # wake wait_ready() so it can raise
        self._feed.idle.set()
        if isinstance(exc, AuthError):
            self._health.token_valid = False
        self._health.error(str(exc), fatal=True)
        log.error("discord %s stopped: %s", self.name, exc)
        return exc

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call_with_retries(self.settings, what, fn)
        except AuthError as exc:
            raise self._fail(exc) from None

    # -- inbound -------------------------------------------------------------------------
    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        await self.connect()
        if not follow:
            if not self._tasks:
                self._feed.blind()
            failure = await self._feed.backfill_pass()
            while not self._feed.queue.empty():
                item = self._feed.queue.get_nowait()
                if item is not None:
                    yield item
            if failure is not None:
                raise failure
            return
        self._start_gateway()
        while True:
            queued = await self._feed.queue.get()
            if queued is not None:
                yield queued
            elif self._failure is not None:
                raise self._failure
            elif all(task.done() for task in self._tasks):
                return  # closed

    def _start_gateway(self) -> None:
        if self._tasks:
            return
        self._health.state = "starting"  # "ok" again once READY arrives
        self._tasks = [
            asyncio.create_task(self._run_backfills(), name=f"discord-{self.name}-backfill"),
            asyncio.create_task(self._run_gateway(), name=f"discord-{self.name}-gateway"),
        ]

    async def _run_gateway(self) -> None:
        """discord.py reconnects by itself; it only returns on close or a fatal close code."""
        client = self.client
        try:
            await client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            self._fail(
                AuthError(
                    "Discord refused the message content intent: enable it under Bot > "
                    "Privileged Gateway Intents or set message_content_intent = false"
                )
            )
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                self._fail(AuthError("Discord gateway rejected the bot token (close code 4004)"))
            else:
                self._fail(
                    ConnectorError(f"Discord gateway closed for good (close code {exc.code})")
                )
        except discord.DiscordException as exc:
            self._fail(map_error(exc, "gateway"))
        finally:
            self._feed.queue.put_nowait(None)

    async def _run_backfills(self) -> None:
        try:
            await self._feed.run_backfills()
        except AuthError:
            self._feed.queue.put_nowait(None)  # _call already recorded the failure

    # -- GatewaySink -----------------------------------------------------------------------
    def on_live_message(self, message: discord.Message) -> None:
        self._feed.live(message)

    def on_gateway_ready(self, how: str) -> None:
        self._health.success()
        self._feed.gateway_ready(how)
        self._gateway_up.set()

    def on_gateway_lost(self) -> None:
        log.warning("discord %s gateway connection lost; discord.py is reconnecting", self.name)
        self._health.error("gateway connection lost; reconnecting")
        self._gateway_up.clear()
        self._feed.gateway_lost()

    def on_rate_limit(self, remaining: int | None, reset: datetime | None) -> None:
        self._health.rate_limited(remaining, reset)

    # -- outbound ------------------------------------------------------------------------
    async def send(self, reply: Outbound) -> SentRef:
        """Post ``reply`` in place: a reply to the customer's message, or in their DM."""
        await self.connect()
        text = trim(reply.text, self.max_length)
        if not text:
            raise ConnectorError("refusing to send an empty Discord message")
        channel_id = await self._target_channel(reply)
        reference = _reference(reply, channel_id)
        channel = self.client.get_partial_messageable(channel_id)

        options: dict[str, Any] = {
            "nonce": nonce_for(reply.idempotency_key),
            "allowed_mentions": _REPLY_MENTIONS,
        }
        if reference is not None:
            options["reference"] = reference

        async def post() -> discord.Message:
            return await channel.send(text, **options)

        try:
            message = await self._call("send", post)
        except ConnectorError as exc:
            self._health.error(f"send: {exc}")
            raise
        self._health.success()  # the daemon counts messages_out
        guild_id = reply.meta.get("guild_id")
        url = jump_url(int(guild_id) if guild_id else None, channel_id, message.id)
        return SentRef(external_id=str(message.id), url=url)

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Our message with the same text answering the same message, posted after it."""
        if not reply.in_reply_to or not reply.in_reply_to.isdigit():
            return None
        await self.connect()
        channel_id = await self._target_channel(reply)
        answered = int(reply.in_reply_to)
        text = trim(reply.text, self.max_length)
        me = self.client.user
        assert me is not None
        channel = self.client.get_partial_messageable(channel_id)

        async def scan() -> discord.Message | None:
            async for message in channel.history(limit=100, after=discord.Object(id=answered)):
                ref = message.reference
                refers = ref is None or ref.message_id == answered
                if message.author.id == me.id and refers and message.content == text:
                    return message
            return None

        found = await self._call("find_sent", scan)
        return None if found is None else SentRef(external_id=str(found.id))

    async def _target_channel(self, reply: Outbound) -> int:
        if reply.kind is Kind.DM and reply.recipient_id and reply.recipient_id.isdigit():
            user_id = int(reply.recipient_id)
            known = self._feed.dm_channel_of(user_id)
            if known is None:
                dm = await self._call(
                    "open DM", lambda: self.client.create_dm(discord.Object(user_id))
                )
                known = dm.id
                self._feed.remember_dm(user_id, known)
            return known
        if not reply.thread.isdigit():
            raise ConnectorError("Discord reply has no channel id in its thread")
        return int(reply.thread)


def _reference(reply: Outbound, channel_id: int) -> discord.MessageReference | None:
    """Reply to the customer's message when it lives in the channel we post to."""
    if not reply.in_reply_to or not reply.in_reply_to.isdigit() or reply.thread != str(channel_id):
        return None
    return discord.MessageReference(
        message_id=int(reply.in_reply_to), channel_id=channel_id, fail_if_not_exists=False
    )


def trim(text: str, limit: int) -> str:
    """Last guard on Discord's 2000-character limit; templates should already fit."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nonce_for(idempotency_key: str) -> str:
    """Discord dedups a repeated nonce for a few minutes (enforce_nonce): safe retries."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:25]
