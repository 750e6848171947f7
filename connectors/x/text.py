"""Text rules X applies to posts: weighted length, and how a posted text comes back.

X does not count code points: it counts a "weighted length" (twitter-text v3) where most
Latin, Greek, Cyrillic, Hebrew, Arabic... characters weigh 1, everything else (CJK, emoji)
weighs 2, and every URL weighs 23 whatever its length. A reply trimmed to 280 code points
can still be refused, so the trim here uses the weighted count.
"""

from __future__ import annotations

import html
import re
import unicodedata

TWEET_LIMIT = 280
DM_LIMIT = 10_000
URL_WEIGHT = 23
ELLIPSIS = "…"

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_LEADING_MENTIONS = re.compile(r"^(?:\s*@[A-Za-z0-9_]{1,15})+\s*")
_SPACES = re.compile(r"\s+")
# Code point ranges that weigh 1 (twitter-text config v3); all others weigh 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _char_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT_RANGES) else 2


def _segments(text: str) -> list[tuple[str, int]]:
    """Split into (piece, weight): a URL is one piece, every other character its own."""
    pieces: list[tuple[str, int]] = []
    position = 0
    for match in _URL.finditer(text):
        pieces.extend((char, _char_weight(char)) for char in text[position : match.start()])
        pieces.append((match.group(0), URL_WEIGHT))
        position = match.end()
    pieces.extend((char, _char_weight(char)) for char in text[position:])
    return pieces


def weighted_length(text: str) -> int:
    """The length X checks against 280 (emoji sequences are over-counted: safe side)."""
    return sum(weight for _, weight in _segments(unicodedata.normalize("NFC", text)))


def trim(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` weighted characters, never inside a URL, marking the cut."""
    text = unicodedata.normalize("NFC", text).strip()
    if weighted_length(text) <= limit:
        return text
    budget = limit - _char_weight(ELLIPSIS)
    kept: list[str] = []
    for piece, weight in _segments(text):
        if weight > budget:
            break
        kept.append(piece)
        budget -= weight
    return "".join(kept).rstrip() + ELLIPSIS


def trim_tweet(text: str) -> str:
    return trim(text, TWEET_LIMIT)


def trim_dm(text: str) -> str:
    return trim(text, DM_LIMIT)


def comparable(text: str) -> str:
    """A form in which a text we posted equals the text X gives back for it.

    X escapes ``& < >`` as HTML entities, prefixes a reply with the @handles it answers,
    and shortens every URL to a t.co link; reconciliation compares texts in this form.
    """
    text = html.unescape(unicodedata.normalize("NFC", text))
    text = _LEADING_MENTIONS.sub("", text)
    text = _URL.sub("<url>", text)
    return _SPACES.sub(" ", text).strip()
