"""Strip quoted history and signatures from a reply's text.

The log and the scorer must see what the customer wrote *this time*: an angry quote of our own
earlier message, or the whole thread pasted below, would skew the sentiment and bloat the log.
The untouched message stays in the mailbox (the raw record); only the logged text is trimmed.
"""

from __future__ import annotations

import re

# "On Mon, 3 Jun 2024 at 10:00, Ann <ann@example.com> wrote:" and its localised cousins; the
# attribution often wraps over two or three lines, so it is matched on joined lines.
_ATTRIBUTION = re.compile(
    r"^\s*(On\s.{1,300}?\swrote|Am\s.{1,300}?\sschrieb\s?.{0,120}|Le\s.{1,300}?\sa\s[ée]crit"
    r"|El\s.{1,300}?\sescribi[óo]|Il\s.{1,300}?\sha\sscritto|Op\s.{1,300}?\sschreef"
    r"|Em\s.{1,300}?\sescreveu)\s?:\s*$",
    re.IGNORECASE | re.DOTALL,
)
# Outlook and friends: "-----Original Message-----" (and translations), or the underscore rule
# Outlook puts above a "From: / Sent:" block.
_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original"
    r"|Messaggio originale|Oorspronkelijk bericht|Forwarded message|Weitergeleitete Nachricht)"
    r"\s*-{2,}\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\**(From|Von|De|Da|Van)\s*:\**\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\**(Sent|Date|Gesendet|Datum|Envoyé|Enviado|Inviato|Verzonden|To|An|À)\s*:",
    re.IGNORECASE,
)
_SIGNATURE = "-- "  # RFC 3676 signature delimiter


def strip_quotes(text: str) -> tuple[str, int]:
    """Return the customer's own words and how many characters of history were dropped.

    Never returns an empty text for a non-empty message: if everything looks quoted (a bare
    forward, say), the whole text is kept, because losing the message is worse than a long log.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    own = _tidy("\n".join(kept))
    if not own:
        own = _tidy("\n".join(lines))
    return own, max(0, len(text.strip()) - len(own))


def _history_start(lines: list[str]) -> int:
    """Index of the first line of quoted history (or signature); len(lines) when none."""
    for i, line in enumerate(lines):
        if line == _SIGNATURE or (line.rstrip() == "--" and i > 0 and _rest_is_short(lines, i)):
            return i
        if _SEPARATOR.match(line):
            return i
        if _UNDERSCORES.match(line) and _outlook_header_at(lines, i + 1):
            return i
        if _HEADER_FROM.match(line) and _outlook_header_at(lines, i):
            return i
        for span in (1, 2, 3):
            joined = " ".join(part.strip() for part in lines[i : i + span])
            if _ATTRIBUTION.match(joined):
                return i
    return len(lines)


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """True when a "From:" line at ``i`` is followed closely by "Sent:"/"Date:"/"To:"."""
    if i >= len(lines) or not _HEADER_FROM.match(lines[i]):
        return False
    return any(_HEADER_NEXT.match(line) for line in lines[i + 1 : i + 4])


def _rest_is_short(lines: list[str], i: int) -> bool:
    """A bare "--" (delimiter whose trailing space got eaten) only counts before a short tail."""
    return len(lines) - i <= 8


def _tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()
