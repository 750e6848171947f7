"""The default triage on real customer tweets (../shared/data/airline): a regression guard.

The full figures come from `socialbot eval-triage` (docs/triage.md); this checks the
shipped scorer still clears the bar on test.csv and calls no English tweet foreign on dev.
"""

from __future__ import annotations

import csv

from responders.routing import Label, RoutingSettings, classify
from responders.triage.language import LanguageCheck
from responders.triage.settings import TriageSettings, build_scorer
from tests.support.shared import shared_path


def rows(name: str) -> list[dict[str, str]]:
    with shared_path("data", "airline", name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_default_triage_finds_complaints_on_the_held_out_tweets() -> None:
    scorer = build_scorer(TriageSettings())
    routing = RoutingSettings()
    tp = fp = fn = 0
    for row in rows("test.csv"):
        complaint = classify(scorer.score(row["text"]), routing)[0] is Label.COMPLAINT
        actual = row["label"] == "negative"
        tp += complaint and actual
        fp += complaint and not actual
        fn += actual and not complaint
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert recall >= 0.80 and precision >= 0.85, (precision, recall)


def test_no_english_tweet_is_called_foreign() -> None:
    check = LanguageCheck()
    foreign = [r["text"] for r in rows("dev.csv") if not check.check(r["text"]).supported]
    assert foreign == []
