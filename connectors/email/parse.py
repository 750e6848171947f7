"""Real-world mail in, clean facts out: any charset, HTML-only, broken encodings, bounces.

Parsing never raises on bad input. A customer's badly encoded message is still a customer's
message: undecodable bytes become U+FFFD, a header that defeats the modern parser is read raw,
and the worst case is an empty subject, never a lost mail or a crashed listener.
"""

from __future__ import annotations

import email
import logging
import re
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime

import html2text

from connectors.base import utc
from connectors.email.classify import bot_reason
from connectors.email.quotes import strip_quotes
from connectors.email.types import Attachment, ParsedMail

log = logging.getLogger(__name__)

_MSG_ID = re.compile(r"<([^<>\s]{1,998})>")
_MAX_ATTACHMENTS = 50


def parse_mail(raw: bytes, *, max_text_chars: int = 50_000) -> ParsedMail:
    """Parse one RFC 5322 message (policy=default); tolerant of every defect we have seen."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)

    def header(name: str) -> str:
        return _header(msg, name)

    from_name, from_address = _first_address(header("From"))
    _, reply_to = _first_address(header("Reply-To"))
    content_type = _safe_content_type(msg)
    body_part = _body_part(msg)
    text, quoted = strip_quotes(_part_text(body_part)) if body_part is not None else ("", 0)
    if len(text) > max_text_chars:
        text = text[:max_text_chars].rstrip() + "\n[... truncated]"
    references = tuple(_MSG_ID.findall(header("References")))
    in_reply_to = _MSG_ID.findall(header("In-Reply-To"))
    return ParsedMail(
        message_id=_message_id(header("Message-ID")),
        in_reply_to=f"<{in_reply_to[0]}>" if in_reply_to else None,
        references=tuple(f"<{ref}>" for ref in references),
        subject=" ".join(header("Subject").split()),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_to if reply_to and reply_to != from_address else None,
        date=_date(header("Date")),
        text=text,
        quoted_chars=quoted,
        attachments=_attachments(msg, body_part),
        bot_reason=bot_reason(header, from_address, content_type),
        content_type=content_type,
    )


def clean(text: str) -> str:
    """Make a str safe for every database: recover escaped bytes as UTF-8, drop NULs."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates of other origins
    return text.replace("\x00", "")


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
        return clean(str(value)) if value is not None else ""
    except Exception:  # the modern header parser has crashed on real mail: read it raw
        log.debug("unparseable %s header, read raw", name)
        for key, raw in msg.raw_items():
            if key.lower() == name.lower():
                return clean(str(raw))
        return ""


def _first_address(value: str) -> tuple[str | None, str]:
    if not value:
        return None, ""
    try:
        pairs = getaddresses([value])
    except Exception:
        return None, ""
    for name, address in pairs:
        if "@" in address:
            return (name.strip() or None), address.strip().lower()
    return None, ""


def _message_id(value: str) -> str | None:
    found = _MSG_ID.search(value)
    if found:
        return f"<{found.group(1)}>"
    bare = value.strip()
    return f"<{bare}>" if bare and " " not in bare and "@" in bare else None


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _safe_content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "text/plain"


def _body_part(msg: EmailMessage) -> Message | None:
    """The part a person reads: text/plain preferred, else HTML; bounces read their first text."""
    try:
        found = msg.get_body(preferencelist=("plain", "html"))
    except Exception:
        found = None
    if found is not None:
        return found
    for part in msg.walk():
        if _safe_content_type(part) in {"text/plain", "text/html"} and not _is_attachment(part):
            return part
    return None


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    text = _decode(payload, _charset(part))
    if _safe_content_type(part) == "text/html":
        text = _html_to_text(text)
    return clean(text)


def _charset(part: Message) -> str:
    try:
        return part.get_content_charset() or "us-ascii"
    except Exception:
        return "us-ascii"


def _decode(payload: bytes, charset: str) -> str:
    """Declared charset, else UTF-8, else the declared one with replacement characters."""
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0  # no re-wrapping: keep the customer's lines
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = False
    converter.unicode_snob = True  # keep “quotes” and accents, not ASCII look-alikes
    try:
        return str(converter.handle(html))
    except Exception:  # html2text is robust, but a crash here must not lose the mail
        return re.sub(r"<[^>]+>", " ", html)


def _is_attachment(part: Message) -> bool:
    try:
        return part.get_content_disposition() == "attachment" or part.get_filename() is not None
    except Exception:
        return False


def _attachments(msg: EmailMessage, body: Message | None) -> tuple[Attachment, ...]:
    """Every leaf that is not the body text: recorded by name, type and size, not parsed."""
    found: list[Attachment] = []
    for part in msg.walk():
        if part is body or part.is_multipart():
            continue
        content_type = _safe_content_type(part)
        is_alternative_text = content_type in {"text/plain", "text/html"} and not (
            _is_attachment(part)
        )
        if is_alternative_text:
            continue  # the other rendering of the body, or a bounce's explanation
        found.append(Attachment(_filename(part, content_type), _size(part), content_type))
        if len(found) >= _MAX_ATTACHMENTS:
            break
    return tuple(found)


def _filename(part: Message, content_type: str) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return "(unnamed " + content_type + ")"
    return clean(" ".join(str(name).split()))[:200]


def _size(part: Message) -> int:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return len(payload)
    try:
        return len(part.as_bytes())  # message/rfc822 and other containers
    except Exception:
        return 0
