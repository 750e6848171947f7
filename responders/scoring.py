"""The scorer interface and the TextBlob baseline.

A scorer reads one message and says how it sounds; the router (responders.routing) decides
what to do about it. Keeping them apart lets a better scorer replace TextBlob without
touching the routing rules, and lets `eval-triage` measure any scorer the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from responders.pattern_sentiment import pattern_sentiment


@dataclass(frozen=True, slots=True)
class Scores:
    """What a scorer says about one message (polarity/subjectivity: TextBlob, for marketing)."""

    polarity: float  # TextBlob, -1..1
    subjectivity: float  # TextBlob, 0..1
    complaint: float  # 0..1; >= 0.5 means "this needs a human" for the scorer's own calibration
    scorer_version: str
    is_question: bool = False
    language: str | None = None  # ISO 639-1 code when detected
    language_supported: bool = True  # False: the scorer cannot judge this text
    topic: str | None = None  # complaint topic, e.g. "delay", "baggage", "refund"
    reasons: tuple[str, ...] = field(default_factory=tuple)  # why, for the log


class Scorer(Protocol):
    version: str

    def score(self, text: str) -> Scores: ...


def textblob_sentiment(text: str) -> tuple[float, float]:
    """TextBlob's pattern-lexicon sentiment; works offline, without importing NLTK."""
    return pattern_sentiment(text)


class TextBlobScorer:
    """The baseline: a complaint is negative polarity. Misses most flatly worded complaints."""

    version = "textblob-1"

    def score(self, text: str) -> Scores:
        polarity, subjectivity = textblob_sentiment(text)
        return Scores(
            polarity=polarity,
            subjectivity=subjectivity,
            complaint=1.0 if polarity < 0 else 0.0,
            scorer_version=self.version,
            is_question="?" in text,
            reasons=("polarity<0",) if polarity < 0 else (),
        )
