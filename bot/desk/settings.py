"""The ``[desk]`` config section: who may act, where staff work, the follow-up policy, CSAT.

Deny by default: with no agent role or user configured, nobody on Discord can run a
command. The CLI is trusted as an agent by default because whoever runs it already holds
the database credentials; ``agents.cli = false`` turns that off.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from responders.canned import DEFAULT_TEXTS, check_placeholders


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentSettings(_Section):
    """``[desk.agents]``: the permission gate's policy (role ids, role names, user ids)."""

    role_ids: tuple[int, ...] = ()
    role_names: tuple[str, ...] = ()
    user_ids: tuple[int, ...] = ()
    cli: bool = True
    refusal: str = (
        "Sorry, only members of the support team can use this command. "
        "If you need help, please open a ticket or write to us directly."
    )


class StaffSettings(_Section):
    """``[desk.staff]``: the Discord staff channel where tickets are posted and worked."""

    connector: str | None = None  # the [connectors.<name>] of type discord hosting the channel
    channel_id: int | None = None
    guild_id: int | None = None  # register slash commands in this guild (instant); else global
    escalation_role_id: int | None = None  # pinged on an SLA breach
    sync_seconds: float = Field(5.0, gt=0)  # how often cards and notices are pushed
    show_text_chars: int = Field(500, ge=50, le=1024)  # customer text shown on a card

    @model_validator(mode="after")
    def _channel_with_connector(self) -> StaffSettings:
        if self.connector and self.channel_id is None:
            raise ValueError("desk.staff.connector is set but desk.staff.channel_id is not")
        return self


class FollowUpSettings(_Section):
    """``[desk.followup]``: the policy's follow-up rules, in business time."""

    sla_warn_fraction: float = Field(0.75, gt=0, lt=1)
    remind_after_business_hours: float = Field(4.0, gt=0)
    nudge_after_business_days: int = Field(2, ge=1)
    close_after_business_days: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _close_after_nudge(self) -> FollowUpSettings:
        if self.close_after_business_days <= self.nudge_after_business_days:
            raise ValueError(
                "close_after_business_days must be more than nudge_after_business_days"
            )
        return self


class CsatSettings(_Section):
    """``[desk.csat]``: one satisfaction question after resolve."""

    enabled: bool = True
    delay_minutes: float = Field(0.0, ge=0)
    # Connectors that can open a private conversation with a customer who wrote in public.
    dm_channels: tuple[str, ...] = ("x", "discord")
    answer_window_days: float = Field(7.0, gt=0)
    low_score_at_most: int = Field(2, ge=1, le=5)


class SchedulerSettings(_Section):
    """``[desk.scheduler]``: the policy clock's background job."""

    enabled: bool = True
    interval_seconds: float = Field(60.0, gt=0)


class DeskSettings(_Section):
    agents: AgentSettings = AgentSettings()
    staff: StaffSettings = StaffSettings()
    followup: FollowUpSettings = FollowUpSettings()
    csat: CsatSettings = CsatSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    canned: dict[str, str] = Field(default_factory=dict)  # saved replies for /canned
    texts: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TEXTS))

    @field_validator("canned")
    @classmethod
    def _canned_ok(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"canned reply name {name!r}: use letters, digits, - and _")
            check_placeholders(name, text)
        return value

    @field_validator("texts")
    @classmethod
    def _texts_ok(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(DEFAULT_TEXTS)
        if unknown:
            raise ValueError(f"unknown text(s) {sorted(unknown)}; known: {sorted(DEFAULT_TEXTS)}")
        merged = {**DEFAULT_TEXTS, **value}
        for name, text in merged.items():
            check_placeholders(name, text)
        return merged
