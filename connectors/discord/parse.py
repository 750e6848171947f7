"""discord.py messages to :class:`Inbound`: who wrote it, does it address us, where to reply."""

from __future__ import annotations

import re

import discord

from connectors.base import Author, Cursor, Inbound, Kind, utc

# Only ordinary messages and replies are customers talking; joins, pins, boosts are not.
_CONVERSATION_TYPES = frozenset({discord.MessageType.default, discord.MessageType.reply})


def is_conversation(message: discord.Message) -> bool:
    return message.type in _CONVERSATION_TYPES


def addresses_us(message: discord.Message, me_id: int) -> bool:
    """A mention of our user or our managed role, or a reply to one of our messages."""
    if me_id in message.raw_mentions or any(user.id == me_id for user in message.mentions):
        return True
    guild = message.guild
    own_role = guild.self_role if isinstance(guild, discord.Guild) else None
    if own_role is not None and own_role.id in message.raw_role_mentions:
        return True
    resolved = message.reference.resolved if message.reference is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == me_id


def strip_own_mention(text: str, me_id: int) -> str:
    """Remove ``<@id>`` / ``<@!id>`` of the bot: noise for scoring and for the log."""
    return re.sub(rf"<@!?{me_id}>", "", text).strip()


def to_inbound(
    message: discord.Message,
    *,
    name: str,
    me_id: int,
    dm: bool,
    guild_id: int | None,
    cursor: Cursor | None,
) -> Inbound:
    """Build the connector-neutral message; ``dm`` and ``guild_id`` come from the channel.

    Messages read from history carry no guild id, so the caller passes what it knows.
    """
    author = message.author
    meta: dict[str, str] = {}
    if guild_id is not None:
        meta["guild_id"] = str(guild_id)
    if dm:
        meta["dm_channel_id"] = str(message.channel.id)
    if message.attachments:
        meta["attachments"] = str(len(message.attachments))
    return Inbound(
        channel=name,
        kind=Kind.DM if dm else Kind.MENTION,
        external_id=str(message.id),
        thread=str(message.channel.id),
        author=Author(
            id=str(author.id),
            handle=author.name,
            display_name=author.global_name or None,
            is_bot=bool(author.bot),
            is_self=author.id == me_id,
        ),
        text=strip_own_mention(message.content, me_id),
        created_at=utc(message.created_at),
        cursor=cursor,
        url=jump_url(guild_id, message.channel.id, message.id),
        meta=meta,
    )


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """Discord's permalink; DMs use ``@me`` in place of a guild id."""
    where = str(guild_id) if guild_id is not None else "@me"
    return f"https://discord.com/channels/{where}/{channel_id}/{message_id}"
