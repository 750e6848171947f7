"""Reading CSAT answers from free text: scores, opt-outs, and messages that are not answers."""

from __future__ import annotations

import pytest

from responders.csat import CsatAnswer, parse_answer


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("4/5", 4),
        ("4 / 5 thanks", 4),
        ("3 out of 5", 3),
        ("2 stars", 2),
        ("⭐⭐⭐⭐", 4),
        ("10/10", 5),
        ("7/10", 4),
        ("great, thanks", 5),
        ("Great, thanks!", 5),
        ("thanks", 4),
        ("meh", 3),
        ("not good", 2),
        ("terrible, thanks", 1),
        ("4 - quick and kind", 4),
        ("5, great", 5),
        ("Four", 4),
        ("I would give it a 4", 4),
    ],
)
def test_scores_are_read_from_free_text(text: str, score: int) -> None:
    assert parse_answer(text) == CsatAnswer(score)


@pytest.mark.parametrize("text", ["stop", "STOP!", "Unsubscribe", "opt out", "no more surveys"])
def test_stop_opts_out(text: str) -> None:
    assert parse_answer(text) == CsatAnswer(None, opt_out=True)


@pytest.mark.parametrize(
    "text",
    [
        "2 orders are missing",
        "my order 12345 is still broken",
        "3 days late and nobody answers my emails, this is not how you treat people",
        "stop charging me twice",
        "45",
        "order 3",
        "I gave 2 orders back",
        "",
    ],
)
def test_messages_that_are_not_answers_are_left_alone(text: str) -> None:
    assert parse_answer(text) is None
