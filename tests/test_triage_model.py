"""The learned scorer: train on rows, save with its version, load only our own files."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
import typer
from typer.testing import CliRunner

from bot.cli.triage_cmd import register
from bot.errors import ConfigError, UserInputError
from responders.triage.evaluate import read_labelled_csv
from responders.triage.model import FORMAT_VERSION, MODEL_FORMAT, ModelScorer, TriageModel, rescale
from responders.triage.settings import TriageSettings, build_scorer
from responders.triage.train import train

SAMPLE = Path(__file__).parent / "data" / "triage_sample.csv"


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, bool]]:
    return [(r.text, r.is_complaint) for r in read_labelled_csv(SAMPLE)]


@pytest.fixture(scope="module")
def trained(rows: list[tuple[str, bool]]) -> tuple[TriageModel, object]:
    return train(rows, folds=3)


def test_train_reports_cross_validated_figures_against_the_current_triage(
    trained: tuple[TriageModel, object], rows: list[tuple[str, bool]]
) -> None:
    model, _ = trained
    figures = model.cv
    assert figures["rows"] == len(rows) == model.training_rows
    assert figures["positives"] == sum(label for _, label in rows) == model.positives
    assert figures["folds"] == 3 and figures["current_version"] == "default-1"
    for side in ("model", "current"):
        assert 0.0 <= figures[side]["f1"] <= 1.0
    assert figures["better"] == (figures["model"]["f1"] > figures["current"]["f1"])
    assert model.version.startswith("model-") and len(model.version) == len("model-2026-01-01-") + 8
    assert 0.3 <= model.threshold <= 0.7 and 0.5 <= model.blend <= 1.0


def test_the_version_names_the_training_data(rows: list[tuple[str, bool]]) -> None:
    first, _ = train(rows, folds=3)
    flipped = [
        (text, not label) if i == 0 else (text, label) for i, (text, label) in enumerate(rows)
    ]
    second, _ = train(flipped, folds=3)
    assert first.version != second.version
    assert first.version[:17] == second.version[:17]  # same day


def test_save_load_round_trip(trained: tuple[TriageModel, object], tmp_path: Path) -> None:
    model, _ = trained
    path = tmp_path / "models" / "triage.joblib"
    model.save(path)
    loaded = TriageModel.load(path)
    assert (loaded.version, loaded.trained_at, loaded.training_rows) == (
        model.version,
        model.trained_at,
        model.training_rows,
    )
    assert loaded.cv == model.cv and (loaded.blend, loaded.threshold) == (
        model.blend,
        model.threshold,
    )
    text = "my parcel never arrived and nobody answers"
    assert ModelScorer(loaded).score(text) == ModelScorer(model).score(text)
    batch = ModelScorer(loaded).score_many([text, "thanks, all sorted"])
    assert batch == [ModelScorer(model).score(text), ModelScorer(model).score("thanks, all sorted")]


def test_every_score_carries_the_model_version(
    trained: tuple[TriageModel, object], tmp_path: Path
) -> None:
    model, _ = trained
    path = tmp_path / "triage.joblib"
    model.save(path)
    scorer = build_scorer(TriageSettings(scorer="model", model_path=path))
    scores = scorer.score("Charged twice for my order and still no refund")
    assert scorer.version == scores.scorer_version == model.version
    assert scores.reasons[0].startswith("model=") and 0.0 <= scores.complaint <= 1.0
    assert scores.topic == "refund" and scores.language == "en"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b"not a pickle at all"), "not a readable triage model"),
        (lambda p: joblib.dump({"weights": [1, 2]}, p), "not a socialbot triage model"),
        (lambda p: joblib.dump(["format", MODEL_FORMAT], p), "not a socialbot triage model"),
        (
            lambda p: joblib.dump(
                {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION + 1, "version": "x"}, p
            ),
            "format 2 is not supported",
        ),
    ],
)
def test_loading_refuses_files_that_are_not_ours(
    tmp_path: Path, make: object, message: str
) -> None:
    path = tmp_path / "model.joblib"
    make(path)  # type: ignore[operator]
    with pytest.raises(ConfigError, match=message):
        TriageModel.load(path)


def test_too_little_history_is_a_clear_error() -> None:
    rows = [("late again", True)] * 3 + [("thanks!", False)] * 30
    with pytest.raises(UserInputError, match="3 complaint"):
        train(rows)


@pytest.mark.parametrize(
    ("p", "expected"), [(0.0, 0.0), (0.4, 0.5), (0.2, 0.25), (0.7, 0.75), (1.0, 1.0)]
)
def test_rescale_puts_the_threshold_on_one_half(p: float, expected: float) -> None:
    assert rescale(p, 0.4) == pytest.approx(expected)


def test_train_triage_command_saves_only_when_better_or_forced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SOCIALBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    register(app)
    out = tmp_path / "m.joblib"
    result = CliRunner().invoke(
        app, ["train-triage", "--from-csv", str(SAMPLE), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["saved"] == data["better"] == out.exists()
    assert data["rows"] == 90 and data["version"].startswith("model-")
    forced = CliRunner().invoke(
        app, ["train-triage", "--from-csv", str(SAMPLE), "--out", str(out), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert out.exists() and "cross-validated on 90 labelled messages" in forced.output
    assert TriageModel.load(out).version in forced.output
