"""What travels between the IMAP/SMTP layer and the connector; never leaves this package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MailboxState:
    """The selected mailbox as the server reported it on SELECT."""

    uidvalidity: int
    uidnext: int | None
    exists: int


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    """One message as fetched (BODY.PEEK, so the server does not set \\Seen on its own)."""

    uid: int
    uidvalidity: int
    raw: bytes  # the whole message, or only its header when it exceeded max_message_bytes
    size: int  # RFC822.SIZE as the server reports it
    internal_date: datetime | None
    flags: frozenset[str]
    header_only: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment is recorded, never parsed: name, declared type and decoded size."""

    name: str
    size: int
    content_type: str


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """The facts of a message the connector needs, already cleaned of bad bytes."""

    message_id: str | None  # "<id@host>" with brackets, or None when absent/unusable
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_address: str  # lower-cased bare address, "" when unparseable
    from_name: str | None
    reply_to: str | None
    date: datetime | None
    text: str  # the customer's own words: quotes and signature stripped, HTML converted
    quoted_chars: int
    attachments: tuple[Attachment, ...]
    bot_reason: str | None
    content_type: str


@dataclass(frozen=True, slots=True)
class OriginalHeaders:
    """What a reply needs from the message it answers, looked up when meta lacks it."""

    message_id: str
    subject: str
    references: tuple[str, ...]
    reply_address: str
