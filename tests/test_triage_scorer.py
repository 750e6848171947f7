"""The default scorer and the `[triage]` settings: flat complaints found, praise left alone."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from pydantic import ValidationError

from bot.errors import ConfigError
from responders.routing import Label, RoutingSettings, classify
from responders.scoring import TextBlobScorer, textblob_sentiment
from responders.triage.default import DefaultScorer, is_question
from responders.triage.language import LanguageGatedScorer
from responders.triage.settings import TriageSettings, build_scorer


@pytest.fixture(scope="module")
def scorer() -> DefaultScorer:
    return DefaultScorer()


FLAT_COMPLAINTS = [
    "still waiting for my bag",
    "flight Cancelled, rebook me?",
    "been on hold for 50 minutes",
    "where is my refund",
    "the app won't let me check in",
    "third time this week the wifi is out",
]


@pytest.mark.parametrize("text", FLAT_COMPLAINTS)
def test_flat_complaints_need_a_human(scorer: DefaultScorer, text: str) -> None:
    assert TextBlobScorer().score(text).complaint == 0.0  # what the old baseline missed
    scores = scorer.score(text)
    assert scores.complaint >= 0.5, scores.reasons
    assert classify(scores, RoutingSettings())[0] is Label.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        "thank you, the crew were amazing!",
        "no delays today, great flight 👍",
        "do you have a student discount?",
        "heading to the game tonight",
    ],
)
def test_praise_questions_and_chatter_do_not(scorer: DefaultScorer, text: str) -> None:
    assert scorer.score(text).complaint < 0.5


def test_sarcasm_is_a_complaint(scorer: DefaultScorer) -> None:
    assert scorer.score("thanks for nothing, great service as always").complaint >= 0.5
    assert scorer.score("love being stuck on the tarmac for 3 hours").complaint >= 0.5


def test_shouting_and_angry_emoji_raise_the_score(scorer: DefaultScorer) -> None:
    calm = scorer.score("my order is late").complaint
    assert scorer.score("my order is late AGAIN!!!").complaint > calm
    assert scorer.score("my order is late 😡").complaint > calm


def test_scores_keep_textblob_for_marketing_and_say_why(scorer: DefaultScorer) -> None:
    text = "Terrible service, my flight was delayed 3 hours and nobody told us anything"
    scores = scorer.score(text)
    assert (scores.polarity, scores.subjectivity) == textblob_sentiment(text)
    assert scores.scorer_version == "default-1"
    assert scores.topic == "delay"
    assert "cue:delay" in scores.reasons and any(r.startswith("vader=") for r in scores.reasons)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("my flight got cancelled and I need to rebook", "cancellation"),
        ("they lost my luggage", "baggage"),
        ("I want my money back, I was charged twice", "refund"),
        ("the website is down and I cannot log in", "booking"),
        ("on hold for an hour, nobody picks up", "customer service"),
    ],
)
def test_topics(scorer: DefaultScorer, text: str, topic: str) -> None:
    assert scorer.score(text).topic == topic


@pytest.mark.parametrize(
    ("text", "expected"),
    [("can you help", True), ("Why is it late", True), ("any news?", True), ("all good", False)],
)
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


def test_settings_defaults_build_the_gated_default_scorer() -> None:
    scorer = build_scorer(TriageSettings())
    assert isinstance(scorer, LanguageGatedScorer)
    assert scorer.version == "default-1"
    assert scorer.score("still waiting for my refund").language == "en"


def test_settings_textblob_scorer() -> None:
    scorer = build_scorer(TriageSettings(scorer="textblob"))
    assert scorer.version == "textblob-1"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scorer": "model"}, "needs model_path"),
        ({"scorer": "bert"}, "scorer"),
        ({"supported_languages": ["english"]}, "not ISO 639"),
        ({"threshold": 0.4}, "Extra inputs are not permitted"),
    ],
)
def test_settings_refuse_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TriageSettings.model_validate(values)


def test_settings_are_frozen() -> None:
    settings = TriageSettings()
    with pytest.raises(ValidationError):
        settings.scorer = "textblob"  # type: ignore[misc]


def test_model_scorer_with_a_file_that_is_not_ours(tmp_path: Path) -> None:
    path = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2, 3]}, path)
    with pytest.raises(ConfigError, match="not a socialbot triage model"):
        build_scorer(TriageSettings(scorer="model", model_path=path))


def test_at_least_as_good_as_vader_on_other_social_text() -> None:
    """The committed non-airline sample (deliveries, banks, apps, chatter): F1 vs VADER alone."""
    import csv

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sample = Path(__file__).parent / "data" / "triage_sample.csv"
    with sample.open(newline="", encoding="utf-8") as handle:
        rows = [(r["text"], r["label"] == "negative") for r in csv.DictReader(handle)]
    vader = SentimentIntensityAnalyzer()
    ours = build_scorer(TriageSettings())

    def f1(predicted: list[bool]) -> float:
        tp = sum(p and a for p, (_, a) in zip(predicted, rows, strict=True))
        fp = sum(p and not a for p, (_, a) in zip(predicted, rows, strict=True))
        fn = sum(a and not p for p, (_, a) in zip(predicted, rows, strict=True))
        return 2 * tp / (2 * tp + fp + fn)

    vader_f1 = f1([vader.polarity_scores(t)["compound"] <= -0.05 for t, _ in rows])
    our_f1 = f1([ours.score(t).complaint >= 0.5 for t, _ in rows])
    assert our_f1 >= vader_f1, (our_f1, vader_f1)
