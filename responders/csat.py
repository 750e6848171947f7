"""Reading a customer's answer to "how satisfied are you, 1 to 5?" from free text.

Customers answer in many ways: "5", "4/5", "4 out of 5", "3 stars", "⭐⭐⭐⭐", "great,
thanks", "meh" — or "stop" to never be asked again. The parser is deliberately
conservative: a message that is not clearly an answer (a new complaint that happens to
contain a digit) returns ``None`` so that it is treated as a normal message and reopens the
ticket instead of being swallowed as a score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALE = (1, 2, 3, 4, 5)

_OPT_OUT = re.compile(
    r"^\s*(stop|unsubscribe|opt[ -]?out|no more (surveys|questions|messages)|"
    r"don'?t (ask|message) me( again)?|leave me alone)\s*[.!]*\s*$",
    re.IGNORECASE,
)
_OUT_OF = re.compile(
    r"(?<![\d.])(?P<n>\d{1,2})(?:[.,]\d)?\s*(?:/|out of|of)\s*(?P<d>5|10)\b", re.IGNORECASE
)
_GIVE = re.compile(
    r"\b(?:give|gave|rate|rating|score)\b\D{0,16}?(?<![\d.])(?P<n>[1-5])\b(?!\s*(?:/|out of))",
    re.IGNORECASE,
)
_STARS = re.compile(r"(?<![\d.])(?P<n>[1-5])\s*(?:stars?|\*|⭐)", re.IGNORECASE)
_STAR_EMOJI = re.compile(r"^\s*(⭐|★){1,5}\s*$")
_BARE = re.compile(
    r"^\s*(?:a\s+)?(?P<n>[1-5])(?P<punct>\s*[.!),:;–—-]+)?(?:\s*(?P<rest>.*))?$", re.DOTALL
)
_WORD = re.compile(r"[a-z']+")
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
# Words that carry a score when the whole message is a short reaction.
_WORD_SCORES = {
    "excellent": 5, "perfect": 5, "amazing": 5, "awesome": 5, "great": 5, "fantastic": 5,
    "brilliant": 5, "superb": 5, "wonderful": 5, "outstanding": 5, "love": 5, "loved": 5,
    "good": 4, "nice": 4, "helpful": 4, "satisfied": 4, "happy": 4, "thanks": 4, "thank": 4,
    "ok": 3, "okay": 3, "fine": 3, "meh": 3, "average": 3, "alright": 3, "so-so": 3,
    "bad": 2, "poor": 2, "slow": 2, "unhappy": 2, "disappointed": 2, "disappointing": 2,
    "terrible": 1, "awful": 1, "horrible": 1, "worst": 1, "useless": 1, "hate": 1,
    "appalling": 1, "pathetic": 1,
}  # fmt: skip
_NEGATIONS = {"not", "never", "no", "isn't", "wasn't", "didn't", "don't", "nt"}
_MAX_REACTION_WORDS = 8  # longer texts are messages, not survey answers


@dataclass(frozen=True, slots=True)
class CsatAnswer:
    """A parsed answer: a score 1-5, or an opt-out ("stop")."""

    score: int | None
    opt_out: bool = False


def parse_answer(text: str) -> CsatAnswer | None:
    """The customer's answer, or None when the text is not clearly an answer."""
    if _OPT_OUT.match(text):
        return CsatAnswer(None, opt_out=True)
    for reader in (_explicit_scale, _stars, _given, _bare_number, _reaction):
        score = reader(text)
        if score is not None:
            return CsatAnswer(score)
    return None


def _explicit_scale(text: str) -> int | None:
    found = _OUT_OF.search(text)
    if found is None:
        return None
    value, scale = int(found["n"]), int(found["d"])
    if not 0 <= value <= scale:
        return None
    if scale == 10:
        value = int(value / 2 + 0.5)  # half up: 7/10 is a 4
    return min(max(value, 1), 5)


def _given(text: str) -> int | None:
    found = _GIVE.search(text)
    if found is None or _looks_like_a_count(text[found.end() :].strip()):
        return None
    return int(found["n"])


def _stars(text: str) -> int | None:
    if _STAR_EMOJI.match(text):
        return len(re.findall(r"⭐|★", text))
    found = _STARS.search(text)
    return int(found["n"]) if found else None


def _bare_number(text: str) -> int | None:
    """ "5", "5!", "4 - quick and kind"; not "2 orders are missing" (a count, then a claim)."""
    found = _BARE.match(text)
    if found is None:
        words = _WORD.findall(text.lower())
        if len(words) == 1 and words[0] in _NUMBER_WORDS:
            return _NUMBER_WORDS[words[0]]
        return None
    rest = (found["rest"] or "").strip()
    if rest and not found["punct"] and (rest[0].isdigit() or _looks_like_a_count(rest)):
        return None
    return int(found["n"])


def _looks_like_a_count(rest: str) -> bool:
    """'2 orders missing': a number followed by a plural noun or 'of' counts things."""
    first = _WORD.match(rest.lower())
    if first is None:
        return False
    word = first.group(0)
    return word == "of" or (word.endswith("s") and word not in _WORD_SCORES)


def _reaction(text: str) -> int | None:
    """A short reaction ("great, thanks", "not good") mapped to the strongest word in it."""
    words = _WORD.findall(text.lower())
    if not words or len(words) > _MAX_REACTION_WORDS:
        return None
    scores: list[int] = []
    for index, word in enumerate(words):
        score = _WORD_SCORES.get(word)
        if score is None:
            continue
        negated = index > 0 and words[index - 1] in _NEGATIONS
        scores.append(_negate(score) if negated else score)
    if not scores:
        return None
    # "thanks" is polite noise next to a real judgement: "terrible, thanks" is a 1.
    judgements = [s for w, s in zip(_judged(words), scores, strict=False) if w] or scores
    return min(judgements) if min(judgements) <= 2 else max(judgements)


def _judged(words: list[str]) -> list[bool]:
    return [w not in ("thanks", "thank") for w in words if w in _WORD_SCORES]


def _negate(score: int) -> int:
    return {5: 2, 4: 2, 3: 2, 2: 3, 1: 3}[score]
