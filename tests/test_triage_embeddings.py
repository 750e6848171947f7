"""Sentence embeddings as model features: the plumbing with a small stand-in encoder, the
packaged encoder itself only where the optional extra is installed."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import pytest
import typer
from numpy.typing import NDArray
from typer.testing import CliRunner

from bot.cli.triage_cmd import register
from bot.errors import ConfigError, UserInputError
from responders.triage import embeddings
from responders.triage.embeddings import (
    DIMENSIONS,
    INSTALL_HINT,
    PrecomputedEmbeddings,
    SentenceEmbeddings,
)
from responders.triage.evaluate import read_labelled_csv
from responders.triage.model import ModelScorer, TriageModel
from responders.triage.train import train

SAMPLE = Path(__file__).parent / "data" / "triage_sample.csv"


class BagOfWordVectors:
    """A deterministic stand-in encoder: each word a fixed random vector, summed, unit length."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def __call__(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                rng = np.random.default_rng(zlib.crc32(word.encode()))
                out[i] += rng.standard_normal(DIMENSIONS).astype(np.float32)
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, bool]]:
    return [(r.text, r.is_complaint) for r in read_labelled_csv(SAMPLE)]


@pytest.fixture(scope="module")
def encoder() -> BagOfWordVectors:
    return BagOfWordVectors()


@pytest.fixture(scope="module")
def trained(rows: list[tuple[str, bool]], encoder: BagOfWordVectors) -> TriageModel:
    model, _ = train(rows, folds=3, embeddings=True, encoder=encoder)
    return model


def test_training_with_embeddings_records_the_features_and_encoder(
    trained: TriageModel, rows: list[tuple[str, bool]]
) -> None:
    assert trained.features == ("words", "chars", "embeddings") and trained.uses_embeddings
    assert trained.encoder == embeddings.ENCODER
    plain, _ = train(rows, folds=3)
    assert plain.features == ("words", "chars") and not plain.uses_embeddings
    assert plain.version != trained.version  # same rows, other features: another model
    assert 0.0 <= trained.cv["model"]["f1"] <= 1.0 and trained.cv["rows"] == len(rows)


def test_each_distinct_text_is_encoded_once_for_all_folds(rows: list[tuple[str, bool]]) -> None:
    counting = BagOfWordVectors()
    doubled = rows + rows[:10]
    train(doubled, folds=3, embeddings=True, encoder=counting)
    assert sorted(counting.encoded) == sorted({text for text, _ in doubled})


def test_the_saved_pipeline_encodes_for_real_and_carries_no_vectors(
    trained: TriageModel, encoder: BagOfWordVectors, tmp_path: Path
) -> None:
    step = trained.pipeline.named_steps["features"].get_params()["embeddings"]
    assert isinstance(step, SentenceEmbeddings) and step.encoder is encoder
    path = tmp_path / "m.joblib"
    trained.save(path)
    raw = joblib.load(path)
    assert raw["features"] == ["words", "chars", "embeddings"]
    saved_step = raw["pipeline"].named_steps["features"].get_params()["embeddings"]
    assert isinstance(saved_step, SentenceEmbeddings) and saved_step.encoder is None
    assert not any(isinstance(s, PrecomputedEmbeddings) for s in _steps(raw["pipeline"]))


def _steps(pipeline: object) -> list[object]:
    features = pipeline.named_steps["features"]  # type: ignore[attr-defined]
    return [transformer for _, transformer in features.transformer_list]


def test_scores_with_embeddings_come_from_the_encoder(
    trained: TriageModel, encoder: BagOfWordVectors
) -> None:
    scorer = ModelScorer(trained)
    before = len(encoder.encoded)
    batch = scorer.score_many(["my parcel never arrived", "thanks, all sorted"])
    assert len(encoder.encoded) == before + 2  # one vectorised call for the batch
    assert [s.scorer_version for s in batch] == [trained.version] * 2
    assert batch[0].complaint > batch[1].complaint


def test_loading_an_embeddings_model_without_the_extra_names_the_install(
    trained: TriageModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.joblib"
    trained.save(path)
    monkeypatch.setattr(embeddings, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"uses sentence embeddings: pip install 'socialbot\["):
        TriageModel.load(path)


def test_loading_refuses_embeddings_from_another_encoder(
    trained: TriageModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.joblib"
    data = trained.to_dict() | {"encoder": "some-other-encoder"}
    joblib.dump(data, path)
    monkeypatch.setattr(embeddings, "available", lambda: True)
    with pytest.raises(ConfigError, match="'some-other-encoder' sentence embeddings"):
        TriageModel.load(path)


def test_model_files_from_before_embeddings_still_load(
    rows: list[tuple[str, bool]], tmp_path: Path
) -> None:
    plain, _ = train(rows, folds=3)
    data = plain.to_dict()
    del data["features"], data["encoder"]
    path = tmp_path / "old.joblib"
    joblib.dump(data, path)
    loaded = TriageModel.load(path)
    assert loaded.features == ("words", "chars") and loaded.encoder is None
    assert ModelScorer(loaded).score("late again").scorer_version == plain.version


def test_encoder_output_of_the_wrong_shape_is_refused() -> None:
    step = SentenceEmbeddings(lambda texts: np.zeros((len(texts), 3), dtype=np.float32))
    with pytest.raises(ValueError, match="expected"):
        step.transform(["hello"])


def test_train_triage_embeddings_without_the_extra_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SOCIALBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(embeddings, "available", lambda: False)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(
        app, ["train-triage", "--from-csv", str(SAMPLE), "--out", "m.joblib", "--embeddings"]
    )
    assert isinstance(result.exception, UserInputError)  # the CLI prints it as one line
    assert INSTALL_HINT in str(result.exception)
    assert not (tmp_path / "m.joblib").exists()


@pytest.mark.skipif(not embeddings.available(), reason="optional extra 'embeddings' not installed")
def test_the_packaged_encoder_puts_similar_complaints_close() -> None:
    vectors = SentenceEmbeddings().transform(
        [
            "they cancelled my flight and nobody answers",
            "my flight got cancelled, no one replies",
            "thank you for the lovely service today",
        ]
    )
    assert vectors.shape == (3, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2
