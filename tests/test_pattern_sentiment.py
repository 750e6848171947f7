"""responders.pattern_sentiment gives TextBlob's sentiment exactly, without importing NLTK."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responders import pattern_sentiment as ps
from responders.pattern_sentiment import is_standalone, pattern_sentiment
from tests.support.shared import REPO, shared_path

HARD_CASES = [
    "",
    " ",
    "\n\n\t",
    "!!!???...",
    ".,;:!?()[]{}`''\"@#$^&*+-|=~_",
    "good",
    "not good",
    "not very good",
    "not a good flight",
    "really not good",
    "never bad",
    "wasn't bad at all, didn't hate it",
    "I don't like it. I can't complain.",
    "no",
    "n't",
    "terribly",
    "terribly good",
    "the service was terribly slow and horribly rude",
    "simply awful, truly wonderful, extremely happy",
    "GREAT!!! NOT GOOD!!!",
    "good!!!!",
    "great flight (!)",
    "great flight ( ! )",
    ":) :( :-D ;-) <3 :-( :'( xD",
    "love it :)",
    "😡😡 worst airline ever 👍",
    "✈️🧳💔",
    "“great” service, ‘bad’ food",
    "e.g. the U.S. flights etc. were late... again",
    "first paragraph is good\n\nsecond one is bad",
    "a-00193480",
    "Das ist nicht gut, sehr schlecht.",
    "C'est très bien, merci beaucoup !",
    "Это ужасно",
    "日本語のテキストです。",
    "@united #fail http://t.co/abc &amp; 100% worse than $50",
    "nul\x00char and \u200b zero width \u202e rtl",
    "lone surrogate \ud800 is still a str",
    " ".join(["this is not a good flight, terribly late! but the crew was lovely :)"] * 2000),
]

WORDS = st.sampled_from(
    [
        "good", "bad", "not", "no", "never", "n't", "don't", "very", "really", "terribly",
        "awfully", "happy", "sad", "is", "a", "the", "flight", "!", "?", ".", "...", "(!)",
        ":)", ":(", ":-D", "<3", "😡", "👍", "'", '"', "“", "’", "\n\n", "U.S.", "Mr.",
    ]
)  # fmt: skip
TEXTS = st.one_of(
    st.text(max_size=80),
    st.lists(st.one_of(WORDS, st.text(max_size=6)), max_size=25).map(" ".join),
    st.lists(WORDS, max_size=25).map("".join),
)


def textblob(text: str) -> tuple[float, float]:
    from textblob import TextBlob

    sentiment = TextBlob(text).sentiment
    return sentiment.polarity, sentiment.subjectivity


def test_standalone_with_the_installed_textblob() -> None:
    assert is_standalone()


@pytest.mark.parametrize("text", HARD_CASES, ids=range(len(HARD_CASES)))
def test_hard_cases_equal_textblob(text: str) -> None:
    assert pattern_sentiment(text) == textblob(text)


def test_hard_cases_are_not_all_neutral() -> None:
    """The comparison above would pass trivially if both sides said (0, 0) to everything."""
    assert pattern_sentiment("not very good")[0] < 0 < pattern_sentiment("terribly good")[0]
    assert pattern_sentiment("terribly")[0] < 0


def test_airline_tweets_equal_textblob() -> None:
    path = shared_path("data", "airline", "dev.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    assert len(texts) > 1000
    differ = [t for t in texts if pattern_sentiment(t) != textblob(t)]
    assert differ == []
    assert sum(pattern_sentiment(t) != (0.0, 0.0) for t in texts) > len(texts) // 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_random_text_equals_textblob(text: str) -> None:
    assert pattern_sentiment(text) == textblob(text)


def test_loads_once_under_concurrent_first_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ps, "_loaded", None)
    builds: list[int] = []
    real_build = ps._build

    def counting_build() -> ps._Loaded:
        builds.append(1)
        return real_build()

    monkeypatch.setattr(ps, "_build", counting_build)
    start = threading.Barrier(8)
    results: list[tuple[float, float]] = []

    def first_call() -> None:
        start.wait()
        results.append(pattern_sentiment("not very good"))

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1]
    assert results == [textblob("not very good")] * 8


def test_unchecked_version_falls_back_to_textblob(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ps, "_installed_version", lambda: "9.1.0")
    with caplog.at_level(logging.WARNING, logger=ps.__name__):
        loaded = ps._build()
    assert not loaded.standalone
    assert "textblob 9.1.0" in caplog.text
    assert loaded.analyze("not very good") == textblob("not very good")


def test_missing_data_file_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ps, "_load_text_module", _raise_layout_error)
    with caplog.at_level(logging.WARNING, logger=ps.__name__):
        loaded = ps._build()
    assert not loaded.standalone
    assert "_text.py is missing" in caplog.text


def _raise_layout_error(path: object) -> None:
    raise ps.LayoutError(f"{path} is missing")


HEAVY = ("nltk", "sklearn", "scipy", "textblob")

_DAEMON_SCRIPT = """
import json, sys
import bot.daemon
from responders.pattern_sentiment import is_standalone
from responders.triage.settings import TriageSettings, build_scorer
after_import = sorted(m for m in %(heavy)r if m in sys.modules)
scores = build_scorer(TriageSettings()).score("still waiting for my bag, not very good")
after_scoring = sorted(m for m in %(heavy)r if m in sys.modules)
print(json.dumps({"import": after_import, "scoring": after_scoring,
                  "standalone": is_standalone(), "polarity": scores.polarity}))
"""


def test_daemon_and_default_scorer_do_not_import_nltk_sklearn_scipy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _DAEMON_SCRIPT % {"heavy": HEAVY}],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["import"] == [] and found["scoring"] == [], found
    assert found["standalone"] is True
    assert found["polarity"] == textblob("still waiting for my bag, not very good")[0] < 0
