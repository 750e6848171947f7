"""Discord wire payloads for the fake, shaped like the API documentation's examples.

The message object follows discord-api-docs' example message (see
../shared/fixtures/discord/discord_api_docs_example_message.json); MESSAGE_CREATE adds
``guild_id`` and ``member`` in guilds, as the gateway documentation describes.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

Json = dict[str, Any]


class Snowflakes:
    """Time-based ids like Discord's, strictly increasing within one fake."""

    def __init__(self) -> None:
        self._last = 0
        self._worker = itertools.count()

    def next(self) -> int:
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = now_ms << 22
        self._last = max(candidate, self._last + 1)
        return self._last

    def at(self, when: datetime) -> int:
        """An id from the past (not monotonic with next(); unique by its low bits)."""
        return (int(when.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22 | next(self._worker) % 4096


def snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(snowflake: int) -> str:
    return snowflake_time(snowflake).isoformat()


def user(user_id: int, username: str, *, bot: bool = False) -> Json:
    payload: Json = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": username.title(),
        "avatar": None,
        "public_flags": 0,
        "flags": 0,
    }
    if bot:
        payload["bot"] = True
    return payload


def member(joined: int, roles: list[int] | None = None) -> Json:
    """A guild member without its user, as MESSAGE_CREATE and mentions carry it."""
    return {
        "roles": [str(r) for r in roles or []],
        "nick": None,
        "avatar": None,
        "joined_at": iso(joined),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }


def message(
    message_id: int,
    channel_id: int,
    author: Json,
    content: str,
    *,
    mentions: list[Json] | None = None,
    mention_roles: list[int] | None = None,
    reference: Json | None = None,
    referenced: Json | None = None,
    nonce: str | int | None = None,
) -> Json:
    """A message object as REST returns it (keys of the documented example, and more)."""
    payload: Json = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": iso(message_id),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [str(r) for r in mention_roles or []],
        "attachments": [],
        "embeds": [],
        "reactions": [],
        "pinned": False,
        "type": 19 if reference else 0,
        "flags": 0,
        "components": [],
    }
    if reference is not None:
        payload["message_reference"] = reference
        payload["referenced_message"] = referenced
    if nonce is not None:
        payload["nonce"] = nonce
    return payload


def text_channel(channel_id: int, guild_id: int, name: str, position: int) -> Json:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: Json) -> Json:
    return {
        "id": str(channel_id),
        "type": 1,
        "last_message_id": None,
        "recipients": [recipient],
        "flags": 0,
    }


def role(role_id: int, name: str, *, bot_id: int | None = None) -> Json:
    payload: Json = {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": 0 if bot_id is None else 1,
        "permissions": "274877975552",  # view channel, send messages, read history
        "managed": bot_id is not None,
        "mentionable": False,
        "flags": 0,
    }
    if bot_id is not None:
        payload["tags"] = {"bot_id": str(bot_id)}
    return payload


def guild_create(guild: Json, channels: list[Json], bot: Json, bot_member: Json) -> Json:
    """GUILD_CREATE after READY: the full guild, with our own member so ``guild.me`` works."""
    return {
        **guild,
        "channels": channels,
        "threads": [],
        "members": [{**bot_member, "user": bot}],
        "member_count": 2,
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "large": False,
        "unavailable": False,
        "joined_at": bot_member["joined_at"],
    }


def guild(guild_id: int, owner_id: int, roles: list[Json]) -> Json:
    return {
        "id": str(guild_id),
        "name": "Acme Support",
        "icon": None,
        "owner_id": str(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
    }


def application(app_id: int, owner: Json) -> Json:
    """GET /oauth2/applications/@me, which discord.py's login reads."""
    return {
        "id": str(app_id),
        "name": "socialbot",
        "icon": None,
        "description": "",
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": owner,
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
    }


def ready(bot: Json, guild_id: int, session_id: str, resume_url: str, app_id: int) -> Json:
    return {
        "v": 10,
        "user": bot,
        "guilds": [{"id": str(guild_id), "unavailable": True}],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_url,
        "shard": [0, 1],
        "application": {"id": str(app_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "user_settings": {},
        "auth": {},
    }


def envelope(op: int, d: Any, s: int | None = None, t: str | None = None) -> Json:
    """The gateway envelope: every frame has op, d, s and t (s and t null outside DISPATCH)."""
    return {"op": op, "d": d, "s": s, "t": t}
