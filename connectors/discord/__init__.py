"""Discord: mentions of the bot in watched channels and DMs in, replies in place out."""

from connectors.discord.connector import DiscordConnector
from connectors.discord.settings import DiscordSettings

__all__ = ["DiscordConnector", "DiscordSettings"]
