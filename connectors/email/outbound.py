"""Who a reply goes to and how it threads, from the outbox row (or the original's header).

The daemon is expected to copy the inbound message's meta into the outbox row; when it does
not (an agent's reply written from the CLI, say), the original is looked up in the mailbox by
its Message-ID, so a reply still threads and still carries the customer's subject.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email import policy
from email.utils import getaddresses

from bot.errors import ConnectorError
from connectors.base import Outbound
from connectors.email.parse import clean
from connectors.email.settings import EmailSettings

log = logging.getLogger(__name__)

_MSG_ID = re.compile(r"<[^<>\s]{1,998}>")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")

Lookup = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True, slots=True)
class ReplyContext:
    to: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]


async def reply_context(reply: Outbound, settings: EmailSettings, lookup: Lookup) -> ReplyContext:
    """Assemble recipient, subject and threading headers; refuse to mail ourselves."""
    meta = reply.meta
    in_reply_to = _msg_id(meta.get("message_id")) or _msg_id(reply.in_reply_to)
    subject = meta.get("subject")
    references = tuple(_MSG_ID.findall(meta.get("references", "")))
    to = meta.get("reply_to") or meta.get("from") or reply.recipient_id or ""
    if in_reply_to and (subject is None or not _ADDRESS.match(to)):
        original = await _original(in_reply_to, lookup)
        if original is not None:
            subject = subject if subject is not None else original["subject"]
            references = references or tuple(_MSG_ID.findall(original["references"]))
            to = to if _ADDRESS.match(to) else original["reply_to"] or original["from"]
    root = _msg_id(reply.thread)
    if not references and root and root != in_reply_to:
        references = (root,)
    to = to.strip().lower()
    if not _ADDRESS.match(to):
        raise ConnectorError("email reply has no usable recipient address")
    if to in settings.self_addresses:
        raise ConnectorError("email reply addressed to our own address: refused (mail loop)")
    return ReplyContext(to, subject or "", in_reply_to, references)


def _msg_id(value: str | None) -> str | None:
    found = _MSG_ID.fullmatch(value.strip()) if value else None
    return found.group(0) if found else None


async def _original(message_id: str, lookup: Lookup) -> dict[str, str] | None:
    try:
        header = await lookup(message_id)
    except ConnectorError as exc:  # threading is best effort: the reply still goes out
        log.warning("email: could not look up the message answered: %s", exc)
        return None
    if header is None:
        return None
    msg = email.message_from_bytes(header, policy=policy.default)
    facts: dict[str, str] = {}
    for name in ("subject", "references", "reply-to", "from"):
        try:
            value = clean(str(msg.get(name) or ""))
        except Exception:
            value = ""
        if name in {"reply-to", "from"}:
            addresses = getaddresses([value]) if value else []
            value = next((a.lower() for _, a in addresses if "@" in a), "")
        facts[name.replace("-", "_")] = value
    return facts
