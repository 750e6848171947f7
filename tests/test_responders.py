"""Routing rules, templates and the business calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from responders.calendar import BusinessCalendar, CalendarSettings
from responders.routing import Label, Router, RoutingRule, RoutingSettings
from responders.scoring import Scores, TextBlobScorer
from responders.templates import ReplySettings, Templates, fit


def scores(**kw: object) -> Scores:
    base = {"polarity": 0.0, "subjectivity": 0.0, "complaint": 0.0, "scorer_version": "t"}
    return Scores(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "label", "ticket", "template"),
    [
        ({"complaint": 0.9, "polarity": -0.2}, Label.COMPLAINT, True, "ack"),
        ({"is_question": True}, Label.QUESTION, True, "ack"),
        ({"polarity": 0.6}, Label.PRAISE, False, "thanks"),
        ({"polarity": 0.1}, Label.OTHER, False, None),
        ({"language_supported": False, "language": "ja"}, Label.COMPLAINT, True, "ack"),
    ],
)
def test_routing_by_scores(
    kw: dict[str, object], label: Label, ticket: bool, template: str | None
) -> None:
    decision = Router(RoutingSettings()).route("text", scores(**kw))
    assert (decision.label, decision.open_ticket, decision.reply_template) == (
        label,
        ticket,
        template,
    )


def test_unsupported_language_reason_is_logged() -> None:
    decision = Router(RoutingSettings()).route("x", scores(language_supported=False, language="ja"))
    assert "language ja not supported" in decision.reason


def test_questions_can_skip_tickets() -> None:
    decision = Router(RoutingSettings(question_opens_ticket=False)).route(
        "?", scores(is_question=True)
    )
    assert decision.label is Label.QUESTION and not decision.open_ticket
    assert decision.reply_template is None


def test_rules_win_over_scores_and_spam_is_ignored() -> None:
    settings = RoutingSettings(
        rules=(RoutingRule(pattern=r"(?i)smoke", label=Label.COMPLAINT, priority="urgent"),)
    )
    router = Router(settings)
    urgent = router.route("smoke came out of the toaster", scores(polarity=0.5))
    assert urgent.label is Label.COMPLAINT and urgent.priority == "urgent"
    spam = router.route("Bitcoin giveaway: invest for profit!", scores(complaint=0.9))
    assert spam.label is Label.IGNORED and spam.reply_template is None


def test_very_negative_complaint_is_high_priority() -> None:
    decision = Router(RoutingSettings()).route("x", scores(complaint=1.0, polarity=-0.9))
    assert decision.priority == "high"


def test_textblob_baseline_keeps_polarity_and_subjectivity() -> None:
    result = TextBlobScorer().score("This is a terrible, awful experience")
    assert result.polarity < 0 and result.subjectivity > 0 and result.complaint == 1.0


def test_template_fills_fields_and_fits_the_channel() -> None:
    templates = Templates(ReplySettings())
    text = templates.render(
        "ack",
        {"name": "@ann", "handle": "ann", "ticket": 7, "sla_hours": "24", "channel": "x"},
        channel="x",
    )
    assert "ticket #7" in text and "24 business hours" in text and len(text) <= 280
    assert (
        len(
            templates.render(
                "ack",
                {
                    "name": "@" + "a" * 400,
                    "handle": "a",
                    "ticket": 1,
                    "sla_hours": "24",
                    "channel": "x",
                },
                channel="x",
            )
        )
        <= 280
    )


def test_fit_cuts_at_a_word_with_an_ellipsis() -> None:
    assert fit("one two three four", 12) == "one two…"
    assert fit("short", 12) == "short"


def _cal(**kw: object) -> BusinessCalendar:
    return BusinessCalendar(CalendarSettings(**kw))  # type: ignore[arg-type]


def _ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=_cal().zone).astimezone(UTC)  # type: ignore[misc]


def test_sla_over_a_weekend() -> None:
    cal = _cal(holidays_country=None)
    # Friday 2026-11-20 16:00 New York + 24 business hours (8h days) -> Wednesday 16:00
    due = cal.add_business_time(_ny(2026, 11, 20, 16), timedelta(hours=24))
    assert due == _ny(2026, 11, 25, 16)


def test_sla_skips_a_public_holiday() -> None:
    cal = _cal()  # US holidays: Thanksgiving 2026-11-26
    due = cal.add_business_time(_ny(2026, 11, 25, 15), timedelta(hours=24))
    assert due == _ny(2026, 12, 1, 15)


def test_sla_with_split_shift_and_extra_holiday() -> None:
    hours = {d: ["08:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    cal = _cal(hours=hours, holidays_country=None, extra_holidays=[date(2026, 11, 24)])
    # Monday 11:00 + 3h: 1h before lunch, 2h after -> Monday 15:00
    assert cal.add_business_time(_ny(2026, 11, 23, 11), timedelta(hours=3)) == _ny(2026, 11, 23, 15)
    # Monday 16:00 + 2h: 1h Monday, Tuesday is a company holiday, 1h Wednesday -> Wed 09:00
    assert cal.add_business_time(_ny(2026, 11, 23, 16), timedelta(hours=2)) == _ny(2026, 11, 25, 9)


def test_message_received_at_night_starts_counting_next_morning() -> None:
    cal = _cal(holidays_country=None)
    due = cal.add_business_time(_ny(2026, 11, 23, 22), timedelta(hours=1))
    assert due == _ny(2026, 11, 24, 10)


def test_business_time_between_counts_only_open_hours() -> None:
    cal = _cal(holidays_country=None)
    elapsed = cal.business_time_between(_ny(2026, 11, 20, 16), _ny(2026, 11, 23, 10))
    assert elapsed == timedelta(hours=2)


def test_calendar_rejects_bad_spans() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        CalendarSettings(hours={"mon": ["17:00-09:00"]})
    with pytest.raises(ValueError, match="unknown weekday"):
        CalendarSettings(hours={"funday": ["09:00-17:00"]})
