"""Train the triage model on labelled history and compare it with the current triage.

Input is plain rows ``(text, is_complaint)`` so the source — the database
(storage/labels.py), a CSV, a test — is a thin adapter. The model's figures are
cross-validated (out-of-fold predictions: every row is scored by a model that did not see
it); the current triage is scored on the same rows. The caller switches to the new model
only when :attr:`CvFigures.better` says so.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from bot.errors import UserInputError
from responders.routing import Label, RoutingSettings, classify
from responders.scoring import Scorer
from responders.triage.default import DefaultScorer
from responders.triage.model import BASE_FEATURES, TriageModel, build_pipeline

if TYPE_CHECKING:
    from responders.triage.embeddings import Encoder

log = logging.getLogger(__name__)

MIN_PER_CLASS = 10  # fewer examples than this of either kind: nothing worth learning
BLENDS = (1.0, 0.8, 0.7, 0.6, 0.5)  # model's share against the default scorer's
THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.3, 0.701, 0.025))


@dataclass(frozen=True)
class Prf:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class CvFigures:
    """The candidate's cross-validated figures next to the current triage's, same rows."""

    rows: int
    positives: int
    folds: int
    blend: float
    threshold: float
    model: Prf
    current_version: str
    current: Prf

    @property
    def better(self) -> bool:
        return self.model.f1 > self.current.f1

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "better": self.better}


def prf(predicted: np.ndarray, actual: np.ndarray) -> Prf:
    tp = int(np.sum(predicted & actual))
    p = tp / int(np.sum(predicted)) if np.any(predicted) else 0.0
    r = tp / int(np.sum(actual)) if np.any(actual) else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Prf(round(p, 4), round(r, 4), round(f1, 4))


def _check(labels: np.ndarray, folds: int) -> None:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    need = max(MIN_PER_CLASS, folds)
    if positives < need or negatives < need:
        raise UserInputError(
            f"not enough labelled history to train: {positives} complaint(s) and {negatives} "
            f"other message(s); at least {need} of each are needed"
        )


def _choose(learned: np.ndarray, cues: np.ndarray, actual: np.ndarray) -> tuple[float, float, Prf]:
    """The blend weight and threshold with the best out-of-fold F1."""
    best = (0.0, 1.0, 0.5, Prf(0.0, 0.0, 0.0))
    for blend in BLENDS:
        mixed = blend * learned + (1 - blend) * cues
        for threshold in THRESHOLDS:
            figures = prf(mixed >= threshold, actual)
            if figures.f1 > best[0]:
                best = (figures.f1, blend, threshold, figures)
    return best[1], best[2], best[3]


def current_figures(
    texts: Sequence[str], actual: np.ndarray, scorer: Scorer, routing: RoutingSettings
) -> Prf:
    """How the triage in service labels these rows (it learns nothing, so no folds)."""
    predicted = np.array(
        [classify(scorer.score(t), routing)[0] is Label.COMPLAINT for t in texts], dtype=bool
    )
    return prf(predicted, actual)


def model_version(
    texts: Sequence[str],
    labels: np.ndarray,
    when: datetime,
    features: Sequence[str] = BASE_FEATURES,
) -> str:
    """'model-YYYY-MM-DD-<8 hex>': the date and a digest of exactly what it learned from."""
    digest = hashlib.sha256()
    if tuple(features) != BASE_FEATURES:  # plain models keep the digest they always had
        digest.update(f"features={','.join(features)}\n".encode())
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{int(label)}\t{text}\n".encode())
    return f"model-{when:%Y-%m-%d}-{digest.hexdigest()[:8]}"


def _pipelines(
    texts: Sequence[str], embeddings: bool, encoder: Encoder | None
) -> tuple[Callable[[], Pipeline], Callable[[Pipeline], Pipeline]]:
    """How to build a pipeline for training, and how to make a fitted one ready to save.

    With embeddings, training looks vectors up in a table encoded once (cross-validation
    fits six pipelines on the same texts); the saved pipeline encodes for real.
    """
    if not embeddings:
        return build_pipeline, lambda fitted: fitted
    from responders.triage.embeddings import (
        PrecomputedEmbeddings,
        SentenceEmbeddings,
        encode_once,
    )

    if encoder is None:
        require_embeddings()
    log.info("encoding %d texts with the sentence encoder", len(texts))
    table = encode_once(texts, encoder)

    def finish(fitted: Pipeline) -> Pipeline:
        fitted.named_steps["features"].set_params(embeddings=SentenceEmbeddings(encoder))
        return fitted

    return lambda: build_pipeline(embeddings=PrecomputedEmbeddings(table)), finish


def require_embeddings() -> None:
    """UserInputError naming the extra when `--embeddings` is asked for without it."""
    from responders.triage.embeddings import INSTALL_HINT, available

    if not available():
        raise UserInputError(f"--embeddings needs the optional extra: {INSTALL_HINT}")


def train(
    rows: Sequence[tuple[str, bool]],
    current: Scorer | None = None,
    routing: RoutingSettings | None = None,
    folds: int = 5,
    seed: int = 0,
    embeddings: bool = False,
    encoder: Encoder | None = None,
) -> tuple[TriageModel, CvFigures]:
    """Fit a model on every row, with figures from ``folds``-fold cross-validation.

    ``embeddings`` adds sentence vectors to the n-grams (optional extra); ``encoder``
    replaces the packaged sentence encoder (tests).
    """
    texts = [text for text, _ in rows]
    actual = np.array([bool(label) for _, label in rows], dtype=bool)
    _check(actual, folds)
    make, finish = _pipelines(texts, embeddings, encoder)
    features = (*BASE_FEATURES, "embeddings") if embeddings else BASE_FEATURES
    default = DefaultScorer()
    current = current or default
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    log.info("training triage model: %d rows, %d folds, %s", len(texts), folds, features)
    learned = cross_val_predict(make(), texts, actual, cv=splitter, method="predict_proba")
    cues = np.array([default.score(t).complaint for t in texts])
    blend, threshold, model_prf = _choose(learned[:, 1], cues, actual)
    figures = CvFigures(
        rows=len(texts),
        positives=int(actual.sum()),
        folds=folds,
        blend=blend,
        threshold=threshold,
        model=model_prf,
        current_version=current.version,
        current=current_figures(texts, actual, current, routing or RoutingSettings()),
    )
    pipeline = finish(make().fit(texts, actual))
    now = datetime.now(UTC)
    model = TriageModel(
        pipeline=pipeline,
        version=model_version(texts, actual, now, features),
        trained_at=now.isoformat(timespec="seconds"),
        training_rows=len(texts),
        positives=figures.positives,
        blend=blend,
        threshold=threshold,
        cv=figures.as_dict(),
        features=features,
        encoder=_encoder_name() if embeddings else None,
    )
    return model, figures


def _encoder_name() -> str:
    from responders.triage.embeddings import ENCODER

    return ENCODER
