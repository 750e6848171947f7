"""A fetched message → :class:`Inbound`: identity, thread, author, text and the facts a reply needs.

Identity is the Message-ID, which survives mailbox moves and UIDVALIDITY changes, so a re-scan
cannot store a message twice. The thread is the root of the References chain: the customer's
follow-up (and our reply, which keeps the chain) land in the same conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

from connectors.base import Author, Cursor, Inbound, Kind
from connectors.email.parse import parse_mail
from connectors.email.settings import EmailSettings
from connectors.email.types import FetchedMessage, ParsedMail

_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|vs|antw|wg|fw|fwd|tr|rif|r)\s*(\[\d+\])?\s*:", re.I)
_MAX_ID = 250  # the database keeps 255 characters of an external id
_META_REFERENCES = 20
_META_ATTACHMENTS = 20


def to_inbound(
    fetched: FetchedMessage, settings: EmailSettings, *, channel: str, cursor: Cursor
) -> Inbound:
    """Build the Inbound for one fetched message (runs in a worker thread: parsing is CPU)."""
    parsed = parse_mail(fetched.raw, max_text_chars=settings.max_text_chars)
    text = parsed.text
    if settings.subject_in_text and _opens_conversation(parsed):
        text = f"{parsed.subject}\n\n{text}".strip()
    if fetched.header_only:
        text = (
            f"[message of {fetched.size:,} bytes not downloaded: larger than "
            "max_message_bytes; read it in the mailbox]"
        )
    external_id = _bounded(parsed.message_id, _MAX_ID) or _fallback_id(settings.mailbox, fetched)
    return Inbound(
        channel=channel,
        kind=Kind.EMAIL,
        external_id=external_id,
        thread=thread_of(parsed, external_id),
        author=_author(parsed, settings),
        text=text,
        created_at=fetched.internal_date or parsed.date or datetime.now(UTC),
        cursor=cursor,
        meta=_meta(parsed, fetched, settings),
    )


def unparseable(
    fetched: FetchedMessage, settings: EmailSettings, *, channel: str, cursor: Cursor
) -> Inbound:
    """Stored for people to see, never answered: we could not even read who sent it."""
    external_id = _fallback_id(settings.mailbox, fetched)
    return Inbound(
        channel=channel,
        kind=Kind.EMAIL,
        external_id=external_id,
        thread=external_id,
        author=Author(id="(unparseable)", handle="(unparseable)", is_bot=True),
        text=f"[message of {fetched.size:,} bytes could not be parsed; read it in the mailbox]",
        created_at=fetched.internal_date or datetime.now(UTC),
        cursor=cursor,
        meta={
            "mailbox": settings.mailbox,
            "uidvalidity": str(fetched.uidvalidity),
            "imap_uid": str(fetched.uid),
            "size": str(fetched.size),
            "bot_reason": "unparseable",
        },
    )


def thread_of(parsed: ParsedMail, external_id: str) -> str:
    """The conversation root: first of References, else In-Reply-To, else this message."""
    root = (parsed.references[0] if parsed.references else None) or parsed.in_reply_to
    return _bounded(root, _MAX_ID) or external_id  # same bound: a root hashes the same way


def _opens_conversation(parsed: ParsedMail) -> bool:
    """A first message's subject is often the complaint itself ("Refund NOW"): score it too."""
    return (
        bool(parsed.subject)
        and not parsed.in_reply_to
        and not parsed.references
        and not _REPLY_PREFIX.match(parsed.subject)
    )


def _author(parsed: ParsedMail, settings: EmailSettings) -> Author:
    address = parsed.from_address
    return Author(
        id=address or "(unknown sender)",
        handle=address or "(unknown sender)",
        display_name=parsed.from_name,
        is_bot=parsed.bot_reason is not None,
        is_self=address in settings.self_addresses,
    )


def _meta(parsed: ParsedMail, fetched: FetchedMessage, settings: EmailSettings) -> dict[str, str]:
    """Small string facts only: the message itself stays in the mailbox (the raw record)."""
    meta = {
        "mailbox": settings.mailbox,
        "uidvalidity": str(fetched.uidvalidity),
        "imap_uid": str(fetched.uid),
        "size": str(fetched.size),
        "subject": parsed.subject[:500],
        "from": parsed.from_address,
    }
    optional = {
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": " ".join(_trim_references(parsed.references)) or None,
        "reply_to": parsed.reply_to,
        "bot_reason": parsed.bot_reason,
        "quoted_chars": str(parsed.quoted_chars) if parsed.quoted_chars else None,
        "header_only": "true" if fetched.header_only else None,
        "attachments": _attachments_json(parsed) if parsed.attachments else None,
    }
    meta.update({key: value for key, value in optional.items() if value})
    return meta


def _attachments_json(parsed: ParsedMail) -> str:
    listed = [
        {"name": a.name[:100], "size": a.size, "type": a.content_type}
        for a in parsed.attachments[:_META_ATTACHMENTS]
    ]
    if len(parsed.attachments) > _META_ATTACHMENTS:
        listed.append(
            {
                "name": f"... {len(parsed.attachments) - _META_ATTACHMENTS} more",
                "size": 0,
                "type": "",
            }
        )
    return json.dumps(listed, ensure_ascii=False)


def _trim_references(references: tuple[str, ...]) -> tuple[str, ...]:
    if len(references) <= _META_REFERENCES:
        return references
    return (references[0], *references[-(_META_REFERENCES - 1) :])


def _bounded(message_id: str | None, limit: int) -> str | None:
    """Message-IDs may be up to 998 characters; very long ones are stored as a hash."""
    if not message_id:
        return None
    if len(message_id) <= limit:
        return message_id
    return "mid-sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _fallback_id(mailbox: str, fetched: FetchedMessage) -> str:
    """No Message-ID: the mailbox position is the only identity (stable per UIDVALIDITY)."""
    key = f"{mailbox}\x00{fetched.uidvalidity}\x00{fetched.uid}"
    return "imap-sha256:" + hashlib.sha256(key.encode()).hexdigest()[:40]
