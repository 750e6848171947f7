"""Reply templates from the config, filled in and fitted to each channel's length limit."""

from __future__ import annotations

import string
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.errors import ConfigError

DEFAULT_TEMPLATES = {
    "ack": (
        "Hi {name}, thanks for reaching out. We have logged this as ticket #{ticket} "
        "and a person from our team will answer within {sla_hours} business hours."
    ),
    "thanks": "Thank you {name}, that is kind of you to say! We have passed it on to the team.",
}
# Platforms' documented limits; a connector's own max_length wins when it is lower.
DEFAULT_LIMITS = {"x": 280, "reddit": 10_000, "discord": 2_000, "email": 20_000, "demo": 280}
FIELDS = {"name", "handle", "ticket", "sla_hours", "channel", "company"}


class ReplySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    company: str = "our company"
    templates: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    max_length: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_LIMITS))

    @field_validator("templates")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        merged = {**DEFAULT_TEMPLATES, **value}
        for name, text in merged.items():
            try:
                used = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            except ValueError as exc:
                raise ValueError(f"template {name!r}: {exc}") from exc
            unknown = used - FIELDS
            if unknown:
                raise ValueError(
                    f"template {name!r} uses unknown field(s) {sorted(unknown)}; "
                    f"known: {sorted(FIELDS)}"
                )
        return merged


def fit(text: str, limit: int) -> str:
    """Trim to ``limit`` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


class Templates:
    def __init__(self, settings: ReplySettings) -> None:
        self.settings = settings

    def limit_for(self, channel: str, connector_limit: int | None = None) -> int:
        limits = [v for v in (self.settings.max_length.get(channel), connector_limit) if v]
        return min(limits) if limits else 10_000

    def render(
        self,
        name: str,
        values: Mapping[str, object],
        *,
        channel: str,
        connector_limit: int | None = None,
    ) -> str:
        template = self.settings.templates.get(name)
        if template is None:
            raise ConfigError(f"replies.templates: no template named {name!r}")
        filled = template.format_map({"company": self.settings.company, **values})
        return fit(filled, self.limit_for(channel, connector_limit))
