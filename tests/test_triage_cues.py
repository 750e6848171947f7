"""The cue lexicon: phrases, negation, intensifiers, style, and a broken lexicon file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from responders.triage.cues import CueLexicon, expand, tokens_of


@pytest.fixture(scope="module")
def lexicon() -> CueLexicon:
    return CueLexicon.load()


def names(lexicon: CueLexicon, text: str) -> set[str]:
    return {hit.name for hit in lexicon.match(text) if not hit.negated}


def test_tokens_drop_mentions_links_and_apostrophes() -> None:
    assert tokens_of("@Brand can’t log in!! https://x.example/a") == ["cant", "log", "in", "!!"]


def test_expand_alternatives_optional_words_and_prefixes() -> None:
    assert expand("no (reply|answer|) yet") == [
        (("no", False), ("reply", False), ("yet", False)),
        (("no", False), ("answer", False), ("yet", False)),
        (("no", False), ("yet", False)),
    ]
    assert expand("cancel*") == [(("cancel", True),)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("still waiting for my bag", {"waiting_time", "again"}),
        ("my flight was Cancelled Flightled", {"cancellation"}),
        ("on hold for 45 minutes", {"customer_service", "waiting_time"}),
        ("where is my refund", {"refund", "question_to_brand"}),
        ("the app keeps crashing", {"booking", "again"}),
        ("worst service ever #fail", {"complaint_words", "negative_hashtag"}),
        ("thanks for nothing", {"sarcasm"}),
        ("thank you so much, the crew were amazing", {"gratitude", "praise_words"}),
    ],
)
def test_groups_that_fire(lexicon: CueLexicon, text: str, expected: set[str]) -> None:
    assert expected <= names(lexicon, text)


def test_each_group_counts_once(lexicon: CueLexicon) -> None:
    hits = lexicon.match("delayed, delayed and delayed again: a delay")
    assert [h.name for h in hits].count("delay") == 1


def test_negation_turns_a_cue_into_mild_praise(lexicon: CueLexicon) -> None:
    plain = next(h for h in lexicon.match("flight delayed") if h.name == "delay")
    negated = next(h for h in lexicon.match("no more delays today") if h.name == "delay")
    assert plain.weight > 0 and not plain.negated
    assert negated.negated and negated.weight == pytest.approx(-0.5 * plain.weight)
    assert negated.topic is None  # a delay that did not happen is not the topic


def test_a_negator_in_an_earlier_clause_does_not_negate(lexicon: CueLexicon) -> None:
    hit = next(h for h in lexicon.match("not happy, the flight is delayed") if h.name == "delay")
    assert not hit.negated


def test_intensifier_makes_a_cue_stronger(lexicon: CueLexicon) -> None:
    plain = next(h for h in lexicon.match("this is frustrating") if h.name == "complaint_words")
    strong = next(h for h in lexicon.match("so frustrating") if h.name == "complaint_words")
    assert strong.intensified and strong.weight > plain.weight


def test_style_counts_caps_exclamations_and_emoji(lexicon: CueLexicon) -> None:
    style = lexicon.style("WORST DAY EVER at LAX!!! why?! 😡😡 👍")
    assert style.caps_words == 2  # WORST, EVER; DAY and LAX are too short to count
    assert style.exclaim_runs == 2
    assert (style.negative_emoji, style.positive_emoji) == (2, 1)


def test_a_custom_lexicon_replaces_the_packaged_one(tmp_path: Path) -> None:
    path = tmp_path / "cues.toml"
    path.write_text(
        '[[cue]]\nname = "dragons"\nweight = 2.0\ntopic = "fauna"\nwords = ["dragon*"]\n'
    )
    lexicon = CueLexicon.load(path)
    assert lexicon.group_names == ["dragons"]
    assert [(h.name, h.topic) for h in lexicon.match("Dragons ate my order")] == [
        ("dragons", "fauna")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[cue]]\nname = "bad"\nweight = 1\npatterns = ["(unclosed"]\n', "cue 'bad' is invalid"),
        ('[[cue]]\nname = "noweight"\nwords = ["x"]\n', "cue 'noweight' is invalid"),
        ("[[cue]\n", "cannot read the triage cue lexicon"),
    ],
)
def test_a_broken_lexicon_is_a_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "cues.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        CueLexicon.load(path)
