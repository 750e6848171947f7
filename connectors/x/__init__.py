"""X (Twitter) API v2 connector: mentions, brand searches and DMs, through tweepy."""

from connectors.x.connector import XConnector
from connectors.x.settings import XSettings

__all__ = ["XConnector", "XSettings"]
