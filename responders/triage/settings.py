"""The `[triage]` config section and the factory that turns it into a scorer.

The daemon, `eval-triage` and `train-triage` all build their scorer here, so the triage that
is measured is exactly the one that runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from responders.scoring import Scorer, TextBlobScorer
from responders.triage.cues import CueLexicon
from responders.triage.default import DefaultScorer
from responders.triage.language import LanguageCheck, LanguageGatedScorer

_LANG_CODE = re.compile(r"^[a-z]{2,3}$")


class TriageSettings(BaseModel):
    """Which scorer decides "needs a human", and which languages it may judge."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scorer: Literal["default", "textblob", "model"] = Field(
        "default",
        description="default: cues + VADER + TextBlob; textblob: polarity < 0 (the old "
        "baseline); model: a scikit-learn model trained by `socialbot train-triage`",
    )
    model_path: Path | None = Field(None, description="model file; required when scorer = model")
    cues_path: Path | None = Field(None, description="a cue lexicon replacing the packaged one")
    unsupported_languages_to_human: bool = Field(
        True,
        description="mark messages in other languages unsupported, so routing hands them to "
        "a person; false: only log the language and score them anyway",
    )
    supported_languages: tuple[str, ...] = Field(("en",), min_length=1)
    language_min_letters: int = Field(15, ge=1, description="shorter texts are never judged")
    language_min_confidence: float = Field(0.5, gt=0.0, le=1.0)

    @field_validator("supported_languages")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [code for code in value if not _LANG_CODE.match(code)]
        if bad:
            raise ValueError(f"not ISO 639 language codes: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _model_needs_path(self) -> TriageSettings:
        if self.scorer == "model" and self.model_path is None:
            raise ValueError("scorer = 'model' needs model_path (see `socialbot train-triage`)")
        return self


def build_scorer(settings: TriageSettings) -> Scorer:
    """The configured scorer, behind the language gate.

    Raises ConfigError when the cue lexicon or the model file cannot be used.
    """
    inner: Scorer
    if settings.scorer == "textblob":
        inner = TextBlobScorer()
    elif settings.scorer == "model":
        from responders.triage.model import ModelScorer  # sklearn loads only when needed

        assert settings.model_path is not None  # checked by the validator
        inner = ModelScorer.load(settings.model_path)
    else:
        inner = DefaultScorer(lexicon=CueLexicon.load(settings.cues_path))
    check = LanguageCheck(
        supported=settings.supported_languages,
        min_letters=settings.language_min_letters,
        min_confidence=settings.language_min_confidence,
    )
    return LanguageGatedScorer(inner, check, to_human=settings.unsupported_languages_to_human)
