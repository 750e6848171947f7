"""One small error hierarchy; the CLI turns each into a one-line message and an exit code."""

from __future__ import annotations

from datetime import datetime


class BotError(Exception):
    """Base of every error socialbot raises on purpose."""

    exit_code = 1


class ConfigError(BotError):
    """The configuration file or environment is wrong; the message names file and key."""

    exit_code = 2


class UserInputError(BotError):
    """A person gave the CLI or a bot command something it cannot act on."""

    exit_code = 2


class NotFound(UserInputError):
    """A ticket, customer or interaction that does not exist."""

    exit_code = 3


class PermissionDenied(BotError):
    """A command was refused by the permission gate."""

    exit_code = 4


class ConnectorError(BotError):
    """A platform call failed; subclasses say whether retrying can help."""


class TransientError(ConnectorError):
    """Timeouts, 5xx, dropped connections: retry with backoff."""


class RateLimited(TransientError):
    """The platform asked us to wait until ``reset_at`` (UTC)."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class AuthError(ConnectorError):
    """Credentials are missing, expired or refused: retrying will not help."""


def shown(value: object, limit: int = 40) -> str:
    """A user's input quoted in an error message: repr'd (one line) and cut to ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
