"""The default triage scorer: TextBlob + VADER + hand-written complaint cues.

No learning on any company's data: the cues are written by hand
(responders/data/triage_cues.toml) and the few numbers in :class:`Calibration` were chosen
by hand on the development half of a public set of customer tweets (see docs/triage.md).
Polarity alone misses complaints worded flatly ("still waiting for my bag"); the cues see
them, VADER adds intensity, caps and emoji, and TextBlob's polarity/subjectivity are kept
in the scores because marketing reads them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from responders.pattern_sentiment import pattern_sentiment
from responders.scoring import Scores
from responders.triage.cues import CueHit, CueLexicon, Style

_QUESTION = re.compile(
    r"\?|^\W*(?:@\w+\s+)*(?:can|could|do|does|is|are|will|would|what|which|when|where|how|"
    r"why|who)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Calibration:
    """How the evidence adds up to a complaint score (log-odds, 0 = undecided)."""

    bias: float = -0.5  # no evidence at all: below the line, but not by much
    vader_negative: float = 2.5  # per unit of negative VADER compound
    vader_positive: float = 1.4  # per unit of positive VADER compound, taken off
    textblob_negative: float = 0.8  # per unit of negative TextBlob polarity
    caps_word: float = 0.2  # per shouted word (max 3)
    exclaim_run: float = 0.2  # per "!!" or "?!" run (max 2)
    negative_emoji: float = 1.2
    positive_emoji: float = 0.6
    cue_cap: float = 5.0  # beyond this, more cues add nothing


def is_question(text: str) -> bool:
    """A question mark, or a sentence opening like one ("can you ...", "why is ...")."""
    return _QUESTION.search(text) is not None


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


class DefaultScorer:
    """Scores a message in tens of microseconds; safe to share between threads."""

    version = "default-1"

    def __init__(
        self, lexicon: CueLexicon | None = None, calibration: Calibration | None = None
    ) -> None:
        self._lexicon = lexicon or CueLexicon.load()
        self._cal = calibration or Calibration()
        self._vader = SentimentIntensityAnalyzer()

    def score(self, text: str) -> Scores:
        polarity, subjectivity = pattern_sentiment(text)
        hits = self._lexicon.match(text)
        style = self._lexicon.style(text)
        compound = float(self._vader.polarity_scores(text)["compound"])
        z, reasons = self._evidence(hits, style, compound, polarity)
        return Scores(
            polarity=polarity,
            subjectivity=subjectivity,
            complaint=round(_sigmoid(z), 4),
            scorer_version=self.version,
            is_question=is_question(text),
            topic=_topic(hits),
            reasons=reasons,
        )

    def _evidence(
        self, hits: list[CueHit], style: Style, compound: float, polarity: float
    ) -> tuple[float, tuple[str, ...]]:
        """Sum the log-odds of a complaint; return it with the reasons worth logging."""
        cal = self._cal
        complaint_cues = min(sum(h.weight for h in hits if h.weight > 0), cal.cue_cap)
        relief = sum(h.weight for h in hits if h.weight < 0)
        if compound >= 0:
            sentiment = -cal.vader_positive * compound
        else:
            sentiment = -cal.vader_negative * compound
        sentiment += cal.textblob_negative * max(0.0, -polarity)
        emphasis = (
            cal.caps_word * min(style.caps_words, 3)
            + cal.exclaim_run * min(style.exclaim_runs, 2)
            + cal.negative_emoji * min(style.negative_emoji, 2)
            - cal.positive_emoji * min(style.positive_emoji, 2)
        )
        z = cal.bias + complaint_cues + relief + sentiment + emphasis
        reasons = [f"cue:{h.name}{'(negated)' if h.negated else ''}" for h in hits]
        reasons.append(f"vader={compound:+.2f}")
        if style.caps_words or style.exclaim_runs:
            reasons.append("emphasis")
        if style.negative_emoji:
            reasons.append("negative emoji")
        return z, tuple(reasons)


def _topic(hits: list[CueHit]) -> str | None:
    """The topic of the first matching group that has one (the lexicon lists specific first)."""
    return next((h.topic for h in hits if h.topic and h.weight > 0), None)
