"""Helpers for the agent-desk tests: a hand-moved clock, tickets opened at chosen times."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.config import Config
from bot.desk.desk import Desk
from bot.desk.guards import Actor
from bot.scheduler import Scheduler, policy_from
from responders.calendar import BusinessCalendar
from responders.templates import Templates
from storage.db import Database
from storage.models import Customer, Event, Interaction, OutboxMessage, StaffNotice, Ticket

BERLIN = ZoneInfo("Europe/Berlin")
SPLIT_SHIFT = {d: ["09:00-12:00", "13:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
BERLIN_CALENDAR = {"timezone": "Europe/Berlin", "hours": SPLIT_SHIFT, "holidays_country": "DE"}
CLI = Actor(id="cli:jess", name="jess", source="cli")

_ids = itertools.count(1)


def berlin(*parts: int) -> datetime:
    """A Berlin wall-clock time, e.g. berlin(2026, 12, 4, 15, 0)."""
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


class ManualClock:
    """Time moves only when a test says so; ``sleep`` never waits."""

    def __init__(self, now: datetime) -> None:
        self.current = now
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def scheduler(config: Config, db: Database, clock: ManualClock) -> Scheduler:
    return Scheduler(policy_from(config, db), clock)


def desk(config: Config, db: Database, clock: ManualClock | None = None) -> Desk:
    now = clock.now if clock else None
    extra: dict[str, Any] = {"now": now} if now else {}
    return Desk.build(
        db,
        config.desk,
        calendar=BusinessCalendar(config.calendar),
        templates=Templates(config.replies),
        **extra,
    )


async def open_ticket(
    db: Database,
    config: Config,
    *,
    at: datetime,
    channel: str = "fake",
    kind: str = "mention",
    author: str = "alice",
    text: str = "my order arrived broken",
) -> int:
    """A complaint stored and ticketed at ``at``, as the worker would have done then."""
    calendar = BusinessCalendar(config.calendar)
    target = timedelta(hours=config.tickets.first_response_business_hours)
    number = next(_ids)
    async with db.transaction() as session:
        customer = await session.scalar(
            select(Customer).where(
                Customer.channel == channel, Customer.external_id == f"uid-{author}"
            )
        )
        if customer is None:
            customer = Customer(channel=channel, external_id=f"uid-{author}", handle=author)
            session.add(customer)
            await session.flush()
        row = Interaction(
            direction="in",
            channel=channel,
            kind=kind,
            external_id=f"m{number}",
            thread=f"thread-{number}",
            customer_id=customer.id,
            text=text,
            meta={"author_id": f"uid-{author}", "author_handle": author},
            created_at=at,
            received_at=at,
            status="processed",
            label="complaint",
            polarity=-0.6,
        )
        session.add(row)
        await session.flush()
        ticket = Ticket(
            customer_id=customer.id,
            origin_interaction_id=row.id,
            channel=channel,
            thread=row.thread,
            label="complaint",
            opened_at=at,
            first_response_due_at=calendar.add_business_time(at, target),
            updated_at=at,
            waiting_since=at,
        )
        session.add(ticket)
        await session.flush()
        row.ticket_id = ticket.id
        session.add(Event(actor="bot", type="ticket_opened", ticket_id=ticket.id))
        return ticket.id


async def ticket(db: Database, ticket_id: int) -> Ticket:
    async with db.session() as session:
        found = await session.get(Ticket, ticket_id)
        assert found is not None
        return found


async def events(
    db: Database, ticket_id: int | None = None, kind: str | None = None
) -> list[Event]:
    async with db.session() as session:
        query = select(Event).order_by(Event.id)
        if ticket_id is not None:
            query = query.where(Event.ticket_id == ticket_id)
        if kind is not None:
            query = query.where(Event.type == kind)
        return list(await session.scalars(query))


async def notices(db: Database, kind: str | None = None) -> list[StaffNotice]:
    async with db.session() as session:
        query = select(StaffNotice).order_by(StaffNotice.id)
        if kind is not None:
            query = query.where(StaffNotice.kind == kind)
        return list(await session.scalars(query))


async def outbox(db: Database, purpose: str | None = None) -> list[OutboxMessage]:
    async with db.session() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if purpose is not None:
            query = query.where(OutboxMessage.purpose == purpose)
        return list(await session.scalars(query))


async def count(db: Database, model: type[Any], **where: Any) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return int(await session.scalar(query) or 0)
