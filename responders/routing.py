"""Routing: from a message's scores to what the bot does about it.

Rules come from the `[routing]` config section. The outcome is a :class:`Decision`: the
label marketing sees (complaint / question / praise / other / ignored), whether a person must
answer (a ticket), whether and how to acknowledge, and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from responders.scoring import Scores


class Label(StrEnum):
    COMPLAINT = "complaint"
    QUESTION = "question"
    PRAISE = "praise"
    OTHER = "other"
    IGNORED = "ignored"  # our own posts, other bots, spam: stored, never answered


Priority = Literal["low", "normal", "high", "urgent"]


class RoutingRule(BaseModel):
    """An override evaluated before the score thresholds: first match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(description="Python regular expression searched in the text")
    label: Label
    priority: Priority = "normal"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    complaint_threshold: float = Field(0.5, ge=0.0, le=1.0)
    praise_min_polarity: float = Field(0.25, ge=-1.0, le=1.0)
    question_opens_ticket: bool = True
    praise_reply: bool = True  # send the "thanks" template to praise
    high_priority_below_polarity: float = Field(-0.6, ge=-1.0, le=1.0)
    spam_patterns: tuple[str, ...] = (
        r"(?i)\b(crypto|bitcoin|forex)\b.*\b(giveaway|profit|invest)",
        r"(?i)\bfollow\s+(me|back)\b.*\bhttps?://",
        r"(?i)\b(dm|message) me for (promo|collab)",
    )
    rules: tuple[RoutingRule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_language_switch_here(cls, data: Any) -> Any:
        # It used to exist beside [triage] unsupported_languages_to_human; false here with
        # true there labelled foreign messages "other": never seen by anyone.
        if isinstance(data, dict) and "unsupported_language_to_human" in data:
            raise ValueError(
                "unsupported_language_to_human is no longer a [routing] key: use [triage] "
                "unsupported_languages_to_human (true: a person answers messages in languages "
                "the scorer cannot read; false: they are scored anyway)"
            )
        return data

    @field_validator("spam_patterns")
    @classmethod
    def _spam_compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from exc
        return value


@dataclass(frozen=True, slots=True)
class Decision:
    label: Label
    open_ticket: bool
    reply_template: str | None  # "ack", "thanks", or None
    priority: Priority
    reason: str


def classify(scores: Scores, settings: RoutingSettings) -> tuple[Label, str]:
    """The label alone, from the scores: what `eval-triage` measures."""
    if not scores.language_supported:  # the scorer declined to judge: a person reads it
        return Label.COMPLAINT, f"language {scores.language or '?'} not supported: sent to a human"
    if scores.complaint >= settings.complaint_threshold:
        threshold = settings.complaint_threshold
        return Label.COMPLAINT, f"complaint score {scores.complaint:.2f} >= {threshold:.2f}"
    if scores.is_question:
        return Label.QUESTION, "a question"
    if scores.polarity >= settings.praise_min_polarity:
        return Label.PRAISE, f"polarity {scores.polarity:.2f} >= {settings.praise_min_polarity:.2f}"
    return Label.OTHER, "no complaint, question or praise"


class Router:
    def __init__(self, settings: RoutingSettings) -> None:
        self.settings = settings
        self._rules = [(re.compile(r.pattern), r) for r in settings.rules]
        self._spam = [re.compile(p) for p in settings.spam_patterns]

    def route(self, text: str, scores: Scores) -> Decision:
        if any(p.search(text) for p in self._spam):
            return Decision(Label.IGNORED, False, None, "low", "spam pattern")
        for pattern, rule in self._rules:
            if pattern.search(text):
                return self._decide(rule.label, f"rule {rule.pattern!r}", rule.priority)
        label, reason = classify(scores, self.settings)
        priority: Priority = "normal"
        angry = scores.polarity <= self.settings.high_priority_below_polarity
        if label is Label.COMPLAINT and angry:
            priority = "high"
        return self._decide(label, reason, priority)

    def _decide(self, label: Label, reason: str, priority: Priority) -> Decision:
        if label is Label.COMPLAINT:
            return Decision(label, True, "ack", priority, reason)
        if label is Label.QUESTION:
            opens = self.settings.question_opens_ticket
            return Decision(label, opens, "ack" if opens else None, priority, reason)
        if label is Label.PRAISE:
            thanks = "thanks" if self.settings.praise_reply else None
            return Decision(label, False, thanks, "low", reason)
        return Decision(label, False, None, "low", reason)
