"""The connector contract: platform payloads in, replies out, health on the side.

Connectors turn a platform's wire format into :class:`Inbound` and send :class:`Outbound`.
They know nothing of the daemon: they get a :class:`ConnectorContext` (their name, where
their cursors are stored) and the daemon drives them through this small surface.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, SecretStr


class Kind(StrEnum):
    MENTION = "mention"
    DM = "dm"
    COMMENT = "comment"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a message, as the platform identifies them."""

    id: str
    handle: str
    display_name: str | None = None
    is_bot: bool = False
    is_self: bool = False  # our own account: never answered


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in a platform's stream, stored in the same transaction as the message."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message a customer wrote, already parsed out of the platform's payload."""

    channel: str  # the connector instance name, e.g. "x" or "support-mail"
    kind: Kind
    external_id: str  # the platform's id of this message (unique per channel)
    thread: str  # where a reply must go: conversation id, channel id, Message-ID chain...
    author: Author
    text: str
    created_at: datetime  # UTC
    cursor: Cursor | None = None
    url: str | None = None
    # Small platform facts a reply needs (email Subject/Message-ID, DM participant id...).
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply bound to its origin: same channel, same thread."""

    channel: str
    kind: Kind
    thread: str
    text: str
    in_reply_to: str | None  # external id of the message answered
    recipient_id: str | None  # author id, for DMs and email
    idempotency_key: str  # stable per outbox row: lets a connector find a post it already made
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SentRef:
    """What the platform answered after a successful send."""

    external_id: str
    url: str | None = None


@dataclass(slots=True)
class Health:
    """A connector's health as `socialbot connectors` and the metrics show it."""

    name: str
    state: str = "starting"  # starting | ok | degraded | down | stopped
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset: datetime | None = None
    token_valid: bool | None = None
    messages_in: int = 0
    messages_out: int = 0
    errors: int = 0
    rate_limit_waits: int = 0

    def success(self) -> None:
        self.state = "ok"
        self.last_success = datetime.now(UTC)

    def error(self, message: str, *, fatal: bool = False) -> None:
        self.state = "down" if fatal else "degraded"
        self.last_error = message
        self.last_error_at = datetime.now(UTC)
        self.errors += 1

    def rate_limited(self, remaining: int | None, reset: datetime | None) -> None:
        self.rate_limit_remaining = remaining
        self.rate_limit_reset = reset
        if remaining == 0:
            self.rate_limit_waits += 1


class CursorStore(Protocol):
    """Read access to the cursors the daemon stored with each message."""

    async def get_cursor(self, channel: str, key: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    name: str
    cursors: CursorStore


class ConnectorSettings(BaseModel):
    """Base of every connector's config section; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str | None = None  # the entry-point name when the section name differs
    enabled: bool = True


@runtime_checkable
class Connector(Protocol):
    name: str
    max_length: int

    async def connect(self) -> None: ...

    def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        """Yield inbound messages. With ``follow=False`` yield what is available now and stop."""
        ...

    async def committed(self, item: Inbound) -> None:
        """Called once ``item`` and its cursor are stored: mark read, set \\Seen, ..."""
        ...

    async def send(self, reply: Outbound) -> SentRef: ...

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Ask the platform whether ``reply`` was already posted (crash reconciliation)."""
        ...

    async def close(self) -> None: ...

    def health(self) -> Health: ...


class BaseConnector:
    """Convenience base: health tracking and no-op hooks. Subclasses set ``settings_model``."""

    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    max_length: int = 10_000
    # Replies per minute the sender allows itself on this platform (under its documented
    # limits); None: no limit of our own (the platform's 429s still apply).
    send_rate_per_minute: float | None = None

    def __init__(self, settings: Any, ctx: ConnectorContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self.name = ctx.name
        self._health = Health(name=ctx.name)

    async def connect(self) -> None:
        self._health.success()

    async def committed(self, item: Inbound) -> None:
        return None

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        return None

    async def close(self) -> None:
        self._health.state = "stopped"

    def health(self) -> Health:
        return self._health

    def __repr__(self) -> str:  # never the settings: they may hold secrets
        return f"<{type(self).__name__} {self.name!r}>"


def env_secret(variable: str) -> SecretStr | None:
    """Read a secret from the environment; secrets never live in config files."""
    value = os.environ.get(variable)
    return SecretStr(value) if value else None


def utc(dt: datetime) -> datetime:
    """Normalise a platform timestamp to aware UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
