"""The schema: customers, interactions, tickets, an append-only event log, cursors, outbox.

Times are stored as UTC. Text columns hold what customers wrote; `forget` blanks them and
keeps the rows (anonymous) so that metrics stay right.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _to_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _as_aware_utc(value)

    # SQLite stores the text SQLAlchemy's DATETIME writes ("2026-12-07 05:09:44.247398").
    # Its processors, chained behind the two methods above (three calls and a dict-format or
    # a regular expression per value), took ~6 % of the pipeline's CPU; these write and read
    # the same text in one call each (tests/test_models_datetime.py: as SQLAlchemy's).

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_bind

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_result


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


def _as_aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SQLITE_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _sqlite_bind(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # most values are UTC already: no call on the hot path
        value = _to_utc(value)
    return _SQLITE_FORMAT % (
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond,
    )  # fmt: skip


def _sqlite_result(value: str | None) -> datetime | None:
    if value is None:
        return None
    if len(value) > 10:  # a date and a time (a bare date + offset parses as a naive date)
        try:
            return datetime.fromisoformat(value + "+00:00")  # naive UTC text, aware in C
        except ValueError:  # the text carries its own offset
            pass
    return _as_aware_utc(datetime.fromisoformat(value))


REPORT_RANGE = ("channel", "kind", "direction", "created_at", "status", "polarity")
REPORT_COMPLAINTS = (
    "label",
    "topic",
    "created_at",
    "direction",
    "agent_label",
    "polarity",
    "channel",
)
REPORT_RELABELLED = (
    "agent_label",
    "created_at",
    "direction",
    "label",
    "topic",
    "polarity",
    "channel",
)
REPORT_TICKETS = (
    "opened_at",
    "channel",
    "acknowledged_at",
    "first_response_at",
    "first_response_due_at",
    "resolved_at",
    "csat_score",
    "csat_asked_at",
    "topic",
)


def now_utc() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Customer(Base):
    """A person as one channel knows them (per-channel identity)."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_customer_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(255))
    handle: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    is_bot: Mapped[bool] = mapped_column(default=False)
    csat_opted_out: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    erased_at: Mapped[datetime | None]


class Interaction(Base):
    """Every message in or out, with its scores and the decision taken."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_interaction_external"),
        Index("ix_interactions_status", "status"),
        Index("ix_interactions_created", "created_at"),
        Index("ix_interactions_thread", "channel", "thread"),
        Index("ix_interactions_customer", "customer_id"),
        Index("ix_interactions_ticket", "ticket_id"),
        # Reports (migration 0003): each period read from the index alone, no GROUP BY sort.
        Index("ix_interactions_report_range", *REPORT_RANGE),
        Index("ix_interactions_report_complaints", *REPORT_COMPLAINTS),
        Index(
            "ix_interactions_report_relabelled",
            *REPORT_RELABELLED,
            sqlite_where=text("agent_label IS NOT NULL"),
            postgresql_where=text("agent_label IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # mention | dm | comment | email
    external_id: Mapped[str | None] = mapped_column(String(255))
    thread: Mapped[str] = mapped_column(String(512))
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(1024))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]  # when the platform says it was written / when we sent it
    received_at: Mapped[datetime] = mapped_column(default=now_utc)
    # pending -> processed | ignored  (inbound);  sent (outbound)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    polarity: Mapped[float | None] = mapped_column(Float)
    subjectivity: Mapped[float | None] = mapped_column(Float)
    complaint_score: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(16))
    agent_label: Mapped[str | None] = mapped_column(String(16))  # a person's correction
    topic: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    decision: Mapped[str | None] = mapped_column(String(255))
    scorer_version: Mapped[str | None] = mapped_column(String(64))
    processed_at: Mapped[datetime | None]


class Ticket(Base):
    """A customer's matter that a person must answer, with its service-level clock."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_due", "status", "first_response_due_at"),
        Index("ix_tickets_thread", "channel", "thread"),
        Index("ix_tickets_customer", "customer_id", "status"),  # 0004: batched worker
        Index("ix_tickets_report", *REPORT_TICKETS),  # 0003: response-time metrics
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    # No FK: interactions.ticket_id already points here, and a cycle would need ALTERs on SQLite.
    origin_interaction_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str] = mapped_column(String(512))
    # open -> waiting_customer -> open ... -> resolved -> closed
    status: Mapped[str] = mapped_column(String(24), default="open")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    label: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(255))
    opened_at: Mapped[datetime] = mapped_column(default=now_utc)
    acknowledged_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    sla_warned_at: Mapped[datetime | None]
    sla_breached_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))
    csat_score: Mapped[int | None]
    csat_asked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Agent desk (migration 0002): staff-channel card, paused SLA clock, follow-ups, CSAT.
    staff_message_id: Mapped[str | None] = mapped_column(String(64))
    staff_synced_at: Mapped[datetime | None]  # the updated_at the staff card shows
    sla_paused_at: Mapped[datetime | None]  # clock paused (waiting on customer, resolved)
    sla_remaining_seconds: Mapped[float | None] = mapped_column(Float)  # business time left
    waiting_since: Mapped[datetime | None]  # when the ball last changed sides
    closed_at: Mapped[datetime | None]
    csat_status: Mapped[str | None] = mapped_column(String(16))  # asked|answered|skipped
    csat_note: Mapped[str | None] = mapped_column(String(255))  # why the survey was skipped
    csat_answered_at: Mapped[datetime | None]


class Event(Base):
    """Append-only: who did what, when. Never updated, never deleted (only anonymised)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_ticket", "ticket_id"), Index("ix_events_at", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now_utc)
    actor: Mapped[str] = mapped_column(String(255))  # "bot", "agent:<id>", "cli:<user>", "system"
    type: Mapped[str] = mapped_column(String(48))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConnectorCursor(Base):
    __tablename__ = "cursors"

    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)


class OutboxMessage(Base):
    """A reply written before it is sent, marked after: never lost, never sent twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("inbound_id", "purpose", "dedupe_key", name="uq_outbox_inbound_purpose"),
        Index("ix_outbox_status", "status", "next_attempt_at"),
        Index("ix_outbox_thread", "channel", "thread", "purpose"),  # 0004: ack cool-down
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"))
    # ack | thanks | agent_reply | csat | nudge | close_notice | ...
    purpose: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(64), default="")  # "" for once-only purposes
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    thread: Mapped[str] = mapped_column(String(512))
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    recipient_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending -> sending -> sent | failed ; skipped (e.g. connector gone, customer erased)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024))
    actor: Mapped[str] = mapped_column(String(255), default="bot")
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    next_attempt_at: Mapped[datetime] = mapped_column(default=now_utc)
    sent_at: Mapped[datetime | None]
    sent_external_id: Mapped[str | None] = mapped_column(String(255))
    outbound_interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id"))
    # 0004: while `sending`, the claiming sender owns the row until then (multi-process).
    lease_until: Mapped[datetime | None]


class StaffNotice(Base):
    """A message for the staff channel (SLA warning, breach, low CSAT, reminder).

    Written in the same transaction as the state change it announces, posted after:
    UNIQUE(ticket, kind, dedupe_key) makes each warning or breach exist exactly once.
    """

    __tablename__ = "staff_notices"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "dedupe_key", name="uq_staff_notice"),
        Index("ix_staff_notices_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(32))  # sla_warning | sla_breach | csat_low | ...
    dedupe_key: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text)
    mention: Mapped[str | None] = mapped_column(String(64))  # "role:<id>" | "user:<id>"
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(64))
