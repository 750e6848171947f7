"""`eval-triage`: figures checked by hand, the sample file, JSON shape, clear input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.triage_cmd import register
from bot.errors import ConfigError, UserInputError
from responders.routing import RoutingSettings
from responders.scoring import Scores
from responders.triage.evaluate import LabelledRow, evaluate, read_labelled_csv

SAMPLE = Path(__file__).parent / "data" / "triage_sample.csv"
KEYS = {"precision", "recall", "f1", "accuracy", "rate"}


class ScriptedScorer:
    """Says what each text is: 'complaint', 'praise', 'question' or 'other'."""

    version = "scripted-1"

    def score(self, text: str) -> Scores:
        kind = text.split()[0]
        return Scores(
            polarity=0.5 if kind == "praise" else 0.0,
            subjectivity=0.0,
            complaint=1.0 if kind == "complaint" else 0.0,
            scorer_version=self.version,
            is_question=kind == "question",
        )


def test_figures_match_a_hand_count() -> None:
    rows = [
        LabelledRow("complaint 1", "negative"),  # TP
        LabelledRow("complaint 2", "negative"),  # TP
        LabelledRow("other 3", "negative"),  # FN (predicted neutral)
        LabelledRow("complaint 4", "neutral"),  # FP
        LabelledRow("praise 5", "positive"),  # correct positive
        LabelledRow("question 6", "neutral"),  # correct neutral
        LabelledRow("other 7", "neutral"),  # correct neutral
        LabelledRow("complaint 8", "negative"),  # TP
        LabelledRow("complaint 9", "positive"),  # FP
    ]
    result = evaluate(rows, ScriptedScorer(), RoutingSettings(), baseline=ScriptedScorer())
    f = result.triage
    # TP=3 FP=2 FN=1: precision 3/5, recall 3/4, F1 = 2*.6*.75/1.35; correct 6 of 9
    assert (f.precision, f.recall, f.f1, f.accuracy) == (0.6, 0.75, 0.6667, 0.6667)
    assert f.confusion == {
        "negative": {"negative": 3, "neutral": 1, "positive": 0},
        "neutral": {"negative": 1, "neutral": 2, "positive": 0},
        "positive": {"negative": 1, "neutral": 0, "positive": 1},
    }
    assert f.rows == 9 and f.rate > 0 and f.scorer_version == "scripted-1"


def test_no_complaint_predicted_gives_zero_not_an_error() -> None:
    rows = [LabelledRow("other a", "negative"), LabelledRow("other b", "neutral")]
    f = evaluate(rows, ScriptedScorer(), baseline=ScriptedScorer()).triage
    assert (f.precision, f.recall, f.f1, f.accuracy) == (0.0, 0.0, 0.0, 0.5)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.delenv("SOCIALBOT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./socialbot.toml: built-in defaults
    return CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_eval_on_the_committed_sample_json(runner: CliRunner, app: typer.Typer) -> None:
    result = runner.invoke(app, ["eval-triage", str(SAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)  # exactly one JSON object on stdout
    assert data.keys() >= KEYS and data["baseline"].keys() >= KEYS
    # TextBlob baseline, counted by hand on the 90 rows (40 complaints): 13 of them have
    # negative polarity, and 5 other rows too; 13 + 25 + 15 rows are in the right class.
    base = data["baseline"]
    assert base["confusion"]["negative"]["negative"] == 13
    assert (base["precision"], base["recall"]) == (round(13 / 18, 4), round(13 / 40, 4))
    assert base["accuracy"] == round(53 / 90, 4)
    # The default triage: its figures agree with its own confusion matrix, and it finds
    # far more complaints than the baseline on this non-airline text.
    tri = data
    confusion = tri["confusion"]
    tp = confusion["negative"]["negative"]
    predicted = sum(confusion[c]["negative"] for c in confusion)
    assert tri["precision"] == round(tp / predicted, 4)
    assert tri["recall"] == round(tp / 40, 4)
    assert tri["scorer_version"] == "default-1"
    assert tri["recall"] >= 0.9 and tri["f1"] > base["f1"] + 0.3


def test_eval_prints_tables(runner: CliRunner, app: typer.Typer) -> None:
    result = runner.invoke(app, ["eval-triage", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    for needle in ("complaint precision", "3-class accuracy", "messages / second", "textblob-1"):
        assert needle in result.output
    assert result.output.count("true \\ predicted") == 2  # triage and baseline


def test_eval_uses_the_triage_section_of_the_config(
    runner: CliRunner, app: typer.Typer, tmp_path: Path
) -> None:
    config = tmp_path / "socialbot.toml"
    config.write_text('[triage]\nscorer = "textblob"\n')
    result = runner.invoke(app, ["eval-triage", str(SAMPLE), "--json", "--config", str(config)])
    assert json.loads(result.output)["scorer_version"] == "textblob-1"
    config.write_text('[triage]\nscorer = "textblob"\nbogus = 1\n')
    result = runner.invoke(app, ["eval-triage", str(SAMPLE), "--config", str(config)])
    assert isinstance(result.exception, ConfigError)
    assert "triage.bogus" in str(result.exception) and str(config) in str(result.exception)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("body,label\nhello,negative\n", "missing column(s) text (found: body, label)"),
        ("text,label\nfine,neutral\nbad,angry\n,\n", "line 3: 'angry'; line 4: '(empty)'"),
        ("text,label\n", "no labelled rows"),
        (b"text,label\n\xff\xfe,negative\n", "not UTF-8"),
    ],
)
def test_bad_input_is_one_clear_error(
    runner: CliRunner, app: typer.Typer, tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "data.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["eval-triage", str(path)])
    assert isinstance(result.exception, UserInputError)
    assert message in str(result.exception) and str(path) in str(result.exception)


def test_labels_are_case_and_space_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("label,text\n Negative ,a\nPOSITIVE,b\n")
    rows = read_labelled_csv(path)
    assert [(r.text, r.label, r.is_complaint) for r in rows] == [
        ("a", "negative", True),
        ("b", "positive", False),
    ]
