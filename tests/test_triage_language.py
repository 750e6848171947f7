"""Language: foreign messages go to a person; short or English texts are never called foreign."""

from __future__ import annotations

import pytest

from responders.routing import Label, RoutingSettings, classify
from responders.scoring import TextBlobScorer, textblob_sentiment
from responders.triage.language import LanguageCheck, LanguageGatedScorer


@pytest.fixture(scope="module")
def check() -> LanguageCheck:
    return LanguageCheck()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Mi vuelo fue cancelado y nadie me ayuda desde ayer", "es"),
        ("Mon colis n'est toujours pas arrivé, c'est inadmissible", "fr"),
        ("Wo ist mein Koffer? Seit zwei Tagen warte ich auf eine Antwort", "de"),
        ("Il mio volo è stato cancellato e nessuno risponde", "it"),
        ("我的行李丢了，已经三天了，没有人回复我", "zh"),
    ],
)
def test_foreign_messages_are_unsupported(check: LanguageCheck, text: str, language: str) -> None:
    verdict = check.check(text)
    assert (verdict.language, verdict.supported) == (language, False)
    assert language in verdict.reason and "not a supported language" in verdict.reason


@pytest.mark.parametrize(
    "text",
    [
        "lol",  # detectors say Sotho
        "yikes.",
        "ok thx!",
        "@brand no. come on.",
        "lmfao 😂😂",
        "F5R3ZZ",
        "still waiting",
        "hahaha YOU GUYS ARE AMAZING. I LOVE YOU GUYS!!!💗",
    ],
)
def test_short_or_slangy_english_is_never_foreign(check: LanguageCheck, text: str) -> None:
    assert check.check(text).supported


def test_plain_english_takes_the_fast_path(check: LanguageCheck) -> None:
    verdict = check.check("@brand my order still has not arrived and nobody answers the phone")
    assert (verdict.language, verdict.supported, verdict.reason) == (
        "en",
        True,
        "English function words",
    )


def test_another_supported_language_passes() -> None:
    check = LanguageCheck(supported=("en", "es"))
    verdict = check.check("Mi vuelo fue cancelado y nadie me ayuda desde ayer")
    assert (verdict.language, verdict.supported) == ("es", True)


def test_gate_marks_foreign_text_and_routing_sends_it_to_a_person(check: LanguageCheck) -> None:
    text = "Mi vuelo fue cancelado y nadie me ayuda desde ayer"
    scores = LanguageGatedScorer(TextBlobScorer(), check).score(text)
    assert not scores.language_supported and scores.language == "es"
    assert scores.reasons and "es" in scores.reasons[0]
    assert (scores.polarity, scores.subjectivity) == textblob_sentiment(text)  # still logged
    label, reason = classify(scores, RoutingSettings())
    assert label is Label.COMPLAINT and "not supported" in reason


def test_gate_can_score_foreign_text_anyway_and_says_so(check: LanguageCheck) -> None:
    text = "Mi vuelo fue cancelado y nadie me ayuda desde ayer"
    scores = LanguageGatedScorer(TextBlobScorer(), check, to_human=False).score(text)
    assert scores.language_supported and scores.language == "es"
    assert scores.reasons[-1].endswith("scored anyway")


def test_gate_keeps_the_inner_scores_for_english(check: LanguageCheck) -> None:
    inner = TextBlobScorer()
    text = "the delivery was terrible and late"
    gated = LanguageGatedScorer(inner, check).score(text)
    assert gated.scorer_version == inner.version
    assert gated.complaint == inner.score(text).complaint and gated.language == "en"
