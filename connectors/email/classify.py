"""Is this mail from a machine? Auto-replies must never answer auto-replies (mail loops).

RFC 3834 asks responders not to answer mail marked ``Auto-Submitted`` (anything but "no"),
list mail, bounces and mail from system addresses. We follow it, plus the de-facto headers
vacation programs and Exchange use, and "no-reply" senders nobody reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SYSTEM_LOCALPARTS = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|"
    r"noreply[-_.+].*|no[-_.]reply[-_.+].*|bounces?[-_.+].*|daemon|mail-?daemon)$",
    re.IGNORECASE,
)
_BULK_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}

HeaderGetter = Callable[[str], str]


def bot_reason(header: HeaderGetter, from_address: str, content_type: str) -> str | None:
    """Why this message must not be answered automatically, or None for a person.

    ``header(name)`` returns the header's value or "" — parsing is the caller's business so
    that a malformed header cannot make a bounce look like a customer.
    """
    auto = header("Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return f"auto-submitted: {auto.split(';')[0][:40]}"
    if content_type.lower() == "multipart/report":
        return "bounce: multipart/report"
    precedence = header("Precedence").strip().lower()
    if precedence in _BULK_PRECEDENCE:
        return f"precedence: {precedence}"
    if header("List-Id").strip():
        return "mailing list: List-Id"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if header(name).strip():
            return f"auto-reply: {name}"
    if header("X-Auto-Response-Suppress").strip().lower() in {"all", "oof", "autoreply"} and (
        header("X-MS-Exchange-Generated-Message-Source") or header("X-MS-Exchange-Inbox-Rules-Loop")
    ):
        return "auto-reply: Exchange"
    if header("Return-Path").strip() == "<>":
        return "null sender: Return-Path <>"
    localpart = from_address.rsplit("@", 1)[0] if "@" in from_address else from_address
    if not localpart or _SYSTEM_LOCALPARTS.match(localpart):
        return f"system sender: {localpart or 'empty'}"
    return None
