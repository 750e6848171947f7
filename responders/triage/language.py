"""Which language a message is in — said only when the detector can be trusted.

The cues, VADER and TextBlob read English. A message in another language would score as
neutral and nobody would answer it, so such messages are marked unsupported and routing
sends them to a person. Short tweets fool detectors ("lol", "ok", "yikes" come out as
Zulu or Serbian), so the check is deliberately conservative: English text with a couple of
English function words is accepted at once, short texts are never judged, and a foreign
verdict needs a confident detector (temperature-scaled probabilities, see
:func:`_probabilities`) that also gives the supported languages almost no chance.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import py3langid

from responders.scoring import Scorer, Scores, textblob_sentiment
from responders.triage.default import is_question

log = logging.getLogger(__name__)

_NOISE = re.compile(r"@\w+|#\w+|https?://\S+|www\.\S+|&\w+;|\d+")
_LETTER = re.compile(r"[^\W\d_]")
_OTHER_LETTER = re.compile(r"[^\W\d_a-zA-Z]")  # letters outside ASCII: é, ß, я, 字
_WORD = re.compile(r"[a-z']+")

# Common English words that are not also common words of other Latin-script languages.
_MARKER_TEXT = """the and my you your with was have been this that what why how when please
thanks thank just still would they our from it's i'm don't can't is are of it be we get got
will not but any who which there their flight"""
_ENGLISH_MARKERS = frozenset(_MARKER_TEXT.split())


@dataclass(frozen=True, slots=True)
class LanguageVerdict:
    language: str | None  # ISO 639-1 code, None when not judged
    supported: bool
    reason: str


def _probabilities(ranked: Iterable[tuple[str, float]], n_bytes: int) -> dict[str, float]:
    """Softmax of the detector's raw log-scores at temperature sqrt(bytes).

    Raw naive-Bayes scores grow with text length, so a plain softmax says "99% Zulu" for
    "lol"; scaling by the square root of the length keeps short texts uncertain.
    """
    pairs = list(ranked)
    scale = 1.0 / math.sqrt(max(n_bytes, 1))
    top = max(score for _, score in pairs) * scale
    weights = {lang: math.exp(score * scale - top) for lang, score in pairs}
    total = sum(weights.values())
    return {lang: w / total for lang, w in weights.items()}


class LanguageCheck:
    """Decides whether a message is in one of ``supported`` languages (ISO 639-1 codes)."""

    def __init__(
        self,
        supported: Sequence[str] = ("en",),
        min_letters: int = 15,
        min_confidence: float = 0.5,
        max_supported_probability: float = 0.05,
    ) -> None:
        self.supported = frozenset(supported)
        self.min_letters = min_letters
        self.min_confidence = min_confidence
        self.max_supported_probability = max_supported_probability
        py3langid.rank("warm up")  # loads the detector's model now (~0.5 s, once per process)

    def check(self, text: str) -> LanguageVerdict:
        cleaned = _NOISE.sub(" ", text).strip()
        letters = len(_LETTER.findall(cleaned))
        if letters < self.min_letters:
            return LanguageVerdict(None, True, "too short to tell the language")
        if "en" in self.supported and self._looks_english(cleaned, letters):
            return LanguageVerdict("en", True, "English function words")
        probs = _probabilities(py3langid.rank(cleaned), len(cleaned.encode("utf-8")))
        top = max(probs, key=probs.__getitem__)
        if top in self.supported:
            return LanguageVerdict(top, True, f"detected {top}")
        in_supported = sum(probs.get(lang, 0.0) for lang in self.supported)
        confident = probs[top] >= self.min_confidence
        if confident and in_supported <= self.max_supported_probability:
            return LanguageVerdict(
                top, False, f"language {top} (p={probs[top]:.2f}) is not a supported language"
            )
        return LanguageVerdict(None, True, f"language unsure ({top} p={probs[top]:.2f})")

    @staticmethod
    def _looks_english(cleaned: str, letters: int) -> bool:
        """Two distinct English markers in mostly-ASCII text: skip the detector (fast path)."""
        if not cleaned.isascii() and len(_OTHER_LETTER.findall(cleaned)) > 0.1 * letters:
            return False
        words = set(_WORD.findall(cleaned.lower()))
        return len(words & _ENGLISH_MARKERS) >= 2


class LanguageGatedScorer:
    """Runs the language check before the scorer, so no foreign message passes as neutral.

    A message in an unsupported language gets ``language_supported=False`` and the reason;
    routing then hands it to a person. With ``to_human=False`` the language is only logged
    in the reasons and the inner scorer judges the message anyway.
    """

    def __init__(self, inner: Scorer, check: LanguageCheck, to_human: bool = True) -> None:
        self.inner = inner
        self.check = check
        self.to_human = to_human
        self.version = inner.version

    def score(self, text: str) -> Scores:
        verdict = self.check.check(text)
        if verdict.supported or not self.to_human:
            scores = self.inner.score(text)
            reasons = scores.reasons
            if not verdict.supported:
                reasons = (*reasons, f"{verdict.reason}; scored anyway")
            return dataclasses.replace(scores, language=verdict.language, reasons=reasons)
        log.debug("unsupported language %s: no score", verdict.language)
        polarity, subjectivity = textblob_sentiment(text)
        return Scores(
            polarity=polarity,
            subjectivity=subjectivity,
            complaint=0.0,  # no opinion: language_supported=False is what routing acts on
            scorer_version=self.version,
            is_question=is_question(text),
            language=verdict.language,
            language_supported=False,
            reasons=(verdict.reason,),
        )
