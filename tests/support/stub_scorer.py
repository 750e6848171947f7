"""A scorer with obvious rules, so pipeline tests do not depend on a lexicon's opinion."""

from __future__ import annotations

from responders.scoring import Scores

NEGATIVE = ("broken", "never", "worst", "refund", "late", "lost", "terrible")
POSITIVE = ("love", "great", "thanks", "thank you", "brilliant")


class StubScorer:
    version = "stub-1"

    def score(self, text: str) -> Scores:
        lower = text.lower()
        negative = any(word in lower for word in NEGATIVE)
        positive = any(word in lower for word in POSITIVE)
        polarity = -0.7 if negative else (0.8 if positive else 0.0)
        return Scores(
            polarity=polarity,
            subjectivity=0.5,
            complaint=1.0 if negative else 0.0,
            scorer_version=self.version,
            is_question=text.rstrip().endswith("?"),
        )
