"""Inbound side: live gateway messages and history backfills merged into one ordered queue.

Live messages are offered in gateway order; after every (re)connect the feed reads each
channel's history after its position, so whatever was said while the gateway was down is
queued too. Each message id is offered once, whichever path sees it first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

import discord

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.base import CursorStore, Health, Inbound
from connectors.discord.parse import addresses_us, is_conversation, to_inbound
from connectors.discord.settings import DiscordSettings
from connectors.discord.tracker import (
    DMS_KEY,
    ChannelTracker,
    channel_key,
    decode_dms,
    snowflake_at,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
DM_USERS_KEPT = 10_000  # user -> DM channel entries; a miss costs one POST /users/@me/channels


class Caller(Protocol):
    """Runs one Discord call with the connector's retry policy and error mapping."""

    def __call__(self, what: str, fn: Callable[[], Awaitable[T]], /) -> Awaitable[T]: ...


class Feed:
    """Turns what the client sees into :class:`Inbound` items, in order, each once."""

    def __init__(
        self,
        name: str,
        settings: DiscordSettings,
        health: Health,
        call: Caller,
    ) -> None:
        self.name = name
        self.settings = settings
        self.health = health
        self._call = call
        self.tracker = ChannelTracker(
            watched=settings.channel_ids, dm_slots=settings.dm_cursor_channels
        )
        self.queue: asyncio.Queue[Inbound | None] = asyncio.Queue()
        self.wanted = asyncio.Event()  # a backfill pass is needed
        self.idle = asyncio.Event()  # no backfill pending or running
        self.idle.set()
        self._client: discord.Client | None = None
        self._me_id = 0
        self._guild_of: dict[int, int | None] = {}
        self._dm_by_user: OrderedDict[int, int] = OrderedDict()  # user id -> DM channel
        lookback = timedelta(minutes=settings.first_start_lookback_minutes)
        self._blind_since = datetime.now(UTC) - lookback  # until the first READY
        self._blind = True

    def dm_channel_of(self, user_id: int) -> int | None:
        return self._dm_by_user.get(user_id)

    def remember_dm(self, user_id: int, channel_id: int) -> None:
        """Where to DM a person without asking Discord; bounded, most recent kept."""
        self._dm_by_user[user_id] = channel_id
        self._dm_by_user.move_to_end(user_id)
        while len(self._dm_by_user) > DM_USERS_KEPT:
            self._dm_by_user.popitem(last=False)

    def attach(self, client: discord.Client, me_id: int) -> None:
        self._client = client
        self._me_id = me_id

    async def load_cursors(self, cursors: CursorStore) -> None:
        """Resume every watched channel and remembered DM channel from its stored cursor."""
        start = snowflake_at(self._blind_since)
        for channel_id in self.settings.channel_ids:
            value = await cursors.get_cursor(self.name, channel_key(channel_id))
            position = int(value) if value and value.isdigit() else start
            self.tracker.load(channel_id, position)
        if self.settings.dms and self.settings.dm_cursor_channels:
            stored = decode_dms(await cursors.get_cursor(self.name, DMS_KEY))
            for channel_id, position in stored.items():
                self.tracker.load(channel_id, position, dm=True)
        log.info(
            "discord %s resuming %d channel(s) from stored cursors",
            self.name,
            len(self.tracker.backfill_targets()),
        )

    # -- gateway events --------------------------------------------------------------
    def gateway_ready(self, how: str) -> None:
        log.info("discord %s gateway %s; backfilling missed messages", self.name, how)
        self._blind = False
        self._want_backfill()

    def _want_backfill(self) -> None:
        self.idle.clear()
        self.wanted.set()

    def gateway_lost(self) -> None:
        if not self._blind:
            self._blind = True
            self._blind_since = datetime.now(UTC)
        self.tracker.lost()

    def live(self, message: discord.Message) -> None:
        """A MESSAGE_CREATE; must not await, so gateway order is queue order."""
        channel_id = message.channel.id
        # Not `message.guild is None`: a guild missing from the cache also gives None.
        if isinstance(message.channel, discord.DMChannel):
            if not self.settings.dms:
                return
            if not self.tracker.is_known(channel_id):
                self.tracker.new_dm(channel_id, snowflake_at(self._blind_since))
                self._want_backfill()
            self.tracker.advance(channel_id, message.id, from_history=False)
            self._offer(message, channel_id, dm=True, guild_id=None)
            return
        parent = getattr(message.channel, "parent_id", None)
        if channel_id in self.tracker.watched:
            self.tracker.advance(channel_id, message.id, from_history=False)
        elif parent not in self.tracker.watched and not self.settings.mentions_everywhere:
            return
        guild = message.guild
        guild_id = guild.id if guild is not None else getattr(message.channel, "guild_id", None)
        self._offer(message, channel_id, dm=False, guild_id=guild_id)

    def _offer(
        self, message: discord.Message, channel_id: int, *, dm: bool, guild_id: int | None
    ) -> None:
        if not is_conversation(message) or message.author.id == self._me_id:
            # Our own posts come back on the gateway and in history; the outbox already
            # logged them under the same id, so offering them would collide with it.
            return
        if not dm and not addresses_us(message, self._me_id):
            return
        if not self.tracker.first_time(message.id):
            return
        if dm:
            self.remember_dm(message.author.id, channel_id)
        item = to_inbound(
            message,
            name=self.name,
            me_id=self._me_id,
            dm=dm,
            guild_id=guild_id,
            cursor=self.tracker.cursor_for(channel_id),
        )
        self.queue.put_nowait(item)

    def drop_stop_marks(self) -> None:
        """Forget end-of-stream marks of a torn-down gateway; keep the messages."""
        kept = []
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if item is not None:
                kept.append(item)
        for item in kept:
            self.queue.put_nowait(item)

    # -- backfill --------------------------------------------------------------------
    async def run_backfills(self) -> None:
        """Forever: one pass each time a (re)connect or a new DM channel asks for it.

        An AuthError ends the loop (the connector reports it); other failures leave the
        channel unsynced and ask for another pass later.
        """
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            failure = await self.backfill_pass()
            if failure is not None:
                loop = asyncio.get_running_loop()
                loop.call_later(self.settings.retry_max_wait, self._want_backfill)
            elif not self.wanted.is_set():
                self.idle.set()

    async def backfill_pass(self) -> TransientError | None:
        """Read history after each unsynced channel's position.

        Returns the first transient failure (worth another pass later). A channel that
        refuses for good (403, 404: a wrong id, a missing permission) is logged as a
        configuration problem and skipped, so it never holds the other channels back.
        """
        first: TransientError | None = None
        for channel_id in self.tracker.backfill_targets():
            try:
                await self._call("history", functools.partial(self._backfill, channel_id))
            except AuthError:
                raise
            except TransientError as exc:
                first = first or exc
                self.health.error(f"history of channel {channel_id}: {exc}")
                log.warning("discord %s cannot backfill channel %s: %s", self.name, channel_id, exc)
            except ConnectorError as exc:
                self.health.error(f"history of channel {channel_id}: {exc}")
                log.error(
                    "discord %s cannot read channel %s (check its id and the bot's "
                    "permissions): %s",
                    self.name,
                    channel_id,
                    exc,
                )
                self.tracker.synced(channel_id, self.tracker.generation)
        return first

    def blind(self) -> None:
        """No gateway is watching: every channel must be read from its position again."""
        self.tracker.lost()

    async def _backfill(self, channel_id: int) -> int:
        assert self._client is not None
        generation = self.tracker.generation
        dm = self.tracker.is_dm(channel_id)
        guild_id = None if dm else await self._guild_id(channel_id)
        after = self.tracker.position(channel_id) or 0
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        count = 0
        async for message in channel.history(
            limit=None, after=discord.Object(id=after), oldest_first=True
        ):
            self.tracker.advance(channel_id, message.id, from_history=True)
            self._offer(message, channel_id, dm=dm, guild_id=guild_id)
            count += 1
        self.tracker.synced(channel_id, generation)
        log.debug("discord %s read %d message(s) of channel %s", self.name, count, channel_id)
        return count

    async def _guild_id(self, channel_id: int) -> int | None:
        """History payloads carry no guild id; the cache or one GET /channels/{id} does."""
        if channel_id not in self._guild_of:
            assert self._client is not None
            cached = self._client.get_channel(channel_id)
            guild = getattr(cached, "guild", None)
            if guild is not None:
                self._guild_of[channel_id] = guild.id
            else:
                data = await self._client.http.get_channel(channel_id)
                raw = data.get("guild_id")
                self._guild_of[channel_id] = int(str(raw)) if raw else None
        return self._guild_of[channel_id]
