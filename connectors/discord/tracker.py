"""Where each channel was last known complete, so a gap is always refilled from history.

A channel is *synced* while the gateway has delivered everything in it since its
position. A disconnect makes every channel unsynced; a backfill (history after the
position) makes it synced again. Positions only move while a channel is synced or while a
backfill reads it, so a stored cursor can never jump over a message that was said while
the bot was away. Cursors may lag behind (the daemon dedups), never run ahead.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import discord.utils

from connectors.base import Cursor

DMS_KEY = "dms"
CURSOR_VALUE_MAX = 1000  # the storage column holds 1024 characters


def channel_key(channel_id: int) -> str:
    return f"channel:{channel_id}"


def snowflake_at(when: datetime) -> int:
    """The smallest message id Discord could have given at ``when``."""
    return int(discord.utils.time_snowflake(when, high=False))


def encode_dms(positions: dict[int, int]) -> str:
    """``channel:position`` pairs, most recently active last, cut to fit the column."""
    pairs = [f"{channel}:{position}" for channel, position in positions.items()]
    while pairs and len(",".join(pairs)) > CURSOR_VALUE_MAX:
        pairs.pop(0)
    return ",".join(pairs)


def decode_dms(value: str | None) -> dict[int, int]:
    """Inverse of :func:`encode_dms`; a damaged entry is skipped, never fatal."""
    result: dict[int, int] = {}
    for pair in (value or "").split(","):
        channel, _, position = pair.partition(":")
        if channel.isdigit() and position.isdigit():
            result[int(channel)] = int(position)
    return result


class ChannelTracker:
    """Positions, sync state, DM channels and a bounded window of ids already yielded."""

    def __init__(self, *, watched: tuple[int, ...], dm_slots: int, seen_window: int = 5000) -> None:
        self.watched = frozenset(watched)
        self._dm_slots = dm_slots
        self._seen_window = seen_window
        self._positions: dict[int, int] = {}
        self._dms: OrderedDict[int, None] = OrderedDict()
        self._synced: set[int] = set()
        self._seen: OrderedDict[int, None] = OrderedDict()
        # Bumped on every disconnect: a backfill that started before it proves nothing.
        self.generation = 0

    # -- positions ---------------------------------------------------------------------
    def load(self, channel_id: int, position: int, *, dm: bool = False) -> None:
        """Start from a stored cursor (or a lookback point); the channel needs a backfill."""
        self._positions[channel_id] = position
        self._synced.discard(channel_id)
        if dm:
            self._remember_dm(channel_id)

    def position(self, channel_id: int) -> int | None:
        return self._positions.get(channel_id)

    def is_known(self, channel_id: int) -> bool:
        return channel_id in self._positions

    def is_dm(self, channel_id: int) -> bool:
        return channel_id in self._dms

    def backfill_targets(self) -> list[int]:
        """Every channel with a position that is not known complete, watched ones first."""
        ordered = [c for c in self._positions if c in self.watched]
        ordered += [c for c in self._positions if c not in self.watched]
        return [c for c in ordered if c not in self._synced]

    def lost(self) -> None:
        """The gateway dropped: nothing is known complete any more."""
        self._synced.clear()
        self.generation += 1

    def synced(self, channel_id: int, generation: int) -> None:
        """History was read up to now, started in ``generation``; stale passes are ignored."""
        if generation == self.generation and channel_id in self._positions:
            self._synced.add(channel_id)

    def is_synced(self, channel_id: int) -> bool:
        return channel_id in self._synced

    def advance(self, channel_id: int, message_id: int, *, from_history: bool) -> None:
        """Move a position forward: history reads always, live messages only when synced."""
        if not (from_history or channel_id in self._synced):
            return
        current = self._positions.get(channel_id)
        if current is None or message_id > current:
            self._positions[channel_id] = message_id
        if channel_id in self._dms:
            self._dms.move_to_end(channel_id)

    # -- DMs -------------------------------------------------------------------------------
    def _remember_dm(self, channel_id: int) -> None:
        self._dms[channel_id] = None
        self._dms.move_to_end(channel_id)
        while len(self._dms) > max(self._dm_slots, 1):
            old, _ = self._dms.popitem(last=False)
            self._positions.pop(old, None)
            self._synced.discard(old)

    def new_dm(self, channel_id: int, blind_since: int) -> None:
        """A DM channel we never saw: history since we were last blind may hold more."""
        self._positions[channel_id] = blind_since
        self._synced.discard(channel_id)
        self._remember_dm(channel_id)

    # -- cursors ---------------------------------------------------------------------------
    def cursor_for(self, channel_id: int) -> Cursor | None:
        """The cursor to store with a message of ``channel_id``: its known-complete position."""
        if channel_id in self._dms:
            if self._dm_slots == 0:
                return None
            known = {c: self._positions[c] for c in self._dms if c in self._positions}
            return Cursor(DMS_KEY, encode_dms(known))
        if channel_id in self.watched and channel_id in self._positions:
            return Cursor(channel_key(channel_id), str(self._positions[channel_id]))
        return None

    # -- dedup -----------------------------------------------------------------------------
    def first_time(self, message_id: int) -> bool:
        """True once per message id (within a bounded window): live and history overlap."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        while len(self._seen) > self._seen_window:
            self._seen.popitem(last=False)
        return True
