"""The learned scorer: a scikit-learn model trained on the company's own labelled messages.

Word and character n-grams (TF-IDF) feed a logistic regression; its probability is blended
with the default scorer's, because the hand-written cues know things a few thousand
examples do not teach. The blend weight and the decision threshold are chosen by
cross-validation when the model is trained (responders/triage/train.py). With the optional
`embeddings` extra, sentence vectors join the n-grams (responders/triage/embeddings.py).

A model file is a joblib dump of a plain dict carrying its format marker, version string,
training date, training-set size and cross-validated figures. joblib files are pickles:
loading one runs code, so only load model files that `socialbot train-triage` wrote.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.base import TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.errors import ConfigError
from responders.scoring import Scores
from responders.triage.default import DefaultScorer

log = logging.getLogger(__name__)

MODEL_FORMAT = "socialbot-triage-model"
FORMAT_VERSION = 1

_URL = re.compile(r"https?://\S+")
_TOKENS = r"(?u)[@#]?\b\w[\w']*\b|[!?]"


def normalise(text: str) -> str:
    """Lower-case, links collapsed: what both vectorisers see (module level: picklable)."""
    return _URL.sub(" http ", text.lower())


BASE_FEATURES = ("words", "chars")


def build_pipeline(c: float = 3.0, embeddings: TransformerMixin | None = None) -> Pipeline:
    """TF-IDF on words (1-2) and characters (2-5 within words) -> logistic regression.

    ``embeddings``, a transformer from texts to dense vectors, joins the n-grams as a third
    block of columns (unscaled: unit-length vectors sit well next to TF-IDF rows).
    """
    blocks: list[tuple[str, Any]] = [
        (
            "words",
            TfidfVectorizer(
                preprocessor=normalise,
                token_pattern=_TOKENS,
                ngram_range=(1, 2),
                sublinear_tf=True,
                min_df=2,
            ),
        ),
        (
            "chars",
            TfidfVectorizer(
                preprocessor=normalise,
                analyzer="char_wb",
                ngram_range=(2, 5),
                sublinear_tf=True,
                min_df=2,
            ),
        ),
    ]
    if embeddings is not None:
        blocks.append(("embeddings", embeddings))
    features = FeatureUnion(blocks)
    return Pipeline(
        [("features", features), ("classifier", LogisticRegression(C=c, max_iter=3000))]
    )


@dataclass(frozen=True)
class TriageModel:
    """A trained model and what is known about it."""

    pipeline: Pipeline
    version: str  # e.g. "model-2026-11-25-3f9c1a2b"
    trained_at: str  # ISO 8601, UTC
    training_rows: int
    positives: int
    blend: float = 1.0  # weight of the model's probability against the default scorer's
    threshold: float = 0.5  # blended probability from which a message needs a human
    cv: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = BASE_FEATURES  # + "embeddings" with the optional extra
    encoder: str | None = None  # the sentence encoder the embeddings came from

    @property
    def uses_embeddings(self) -> bool:
        return "embeddings" in self.features

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "trained_at": self.trained_at,
            "training_rows": self.training_rows,
            "positives": self.positives,
            "blend": self.blend,
            "threshold": self.threshold,
            "cv": self.cv,
            "features": list(self.features),
            "encoder": self.encoder,
            "sklearn_version": sklearn.__version__,
            "pipeline": self.pipeline,
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump(self.to_dict(), tmp, compress=3)
        tmp.replace(path)  # never leave a half-written model where the daemon looks

    @classmethod
    def load(cls, path: Path) -> TriageModel:
        """Read a model file, refusing anything that is not one of ours."""
        if not path.is_file():
            raise ConfigError(f"triage model file {path} does not exist")
        try:
            data = joblib.load(path)
        except Exception as exc:  # joblib raises anything a broken pickle can
            raise ConfigError(f"{path} is not a readable triage model: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise ConfigError(f"{path} is not a socialbot triage model (no {MODEL_FORMAT!r} key)")
        if data.get("format_version") != FORMAT_VERSION or not isinstance(data.get("version"), str):
            raise ConfigError(
                f"{path}: triage model format {data.get('format_version')!r} is not supported "
                f"(expected {FORMAT_VERSION}); retrain with `socialbot train-triage`"
            )
        features = tuple(str(f) for f in data.get("features", BASE_FEATURES))
        if "embeddings" in features:
            _check_encoder(path, data.get("encoder"))
        if data.get("sklearn_version") != sklearn.__version__:
            log.warning(
                "triage model %s was trained with scikit-learn %s, running %s",
                data["version"],
                data.get("sklearn_version"),
                sklearn.__version__,
            )
        return cls(
            pipeline=data["pipeline"],
            version=data["version"],
            trained_at=str(data.get("trained_at", "")),
            training_rows=int(data.get("training_rows", 0)),
            positives=int(data.get("positives", 0)),
            blend=float(data.get("blend", 1.0)),
            threshold=float(data.get("threshold", 0.5)),
            cv=dict(data.get("cv", {})),
            features=features,
            encoder=data.get("encoder"),
        )


def _check_encoder(path: Path, encoder: object) -> None:
    """A model built on sentence embeddings needs the same encoder, installed."""
    from responders.triage.embeddings import ENCODER, available

    if not available():
        from responders.triage.embeddings import INSTALL_HINT

        raise ConfigError(f"{path} uses sentence embeddings: {INSTALL_HINT}")
    if encoder != ENCODER:
        raise ConfigError(
            f"{path} was trained on {encoder!r} sentence embeddings, this install has "
            f"{ENCODER!r}; retrain with `socialbot train-triage --embeddings`"
        )


def rescale(p: float, threshold: float) -> float:
    """Map a probability so that ``threshold`` lands on 0.5, routing's default line."""
    if p < threshold:
        return 0.5 * p / threshold
    return 0.5 + 0.5 * (p - threshold) / (1.0 - threshold)


class ModelScorer:
    """Scores with a trained model; TextBlob polarity, topic and question come from the cues."""

    def __init__(self, model: TriageModel, default: DefaultScorer | None = None) -> None:
        self.model = model
        self.version = model.version
        self._default = default or DefaultScorer()

    @classmethod
    def load(cls, path: Path) -> ModelScorer:
        return cls(TriageModel.load(path))

    def score(self, text: str) -> Scores:
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[Scores]:
        """Scores for a batch: one vectorised model call (a single message costs ~2 ms)."""
        learned = self.model.pipeline.predict_proba(list(texts))[:, 1]
        return [
            self._combine(self._default.score(t), float(p))
            for t, p in zip(texts, learned, strict=True)
        ]

    def _combine(self, base: Scores, learned: float) -> Scores:
        blend = self.model.blend
        p = blend * learned + (1 - blend) * base.complaint
        complaint = rescale(p, self.model.threshold)
        return Scores(
            polarity=base.polarity,
            subjectivity=base.subjectivity,
            complaint=round(complaint, 4),
            scorer_version=self.version,
            is_question=base.is_question,
            topic=base.topic,
            reasons=(f"model={learned:.2f}", f"cues={base.complaint:.2f}"),
        )
