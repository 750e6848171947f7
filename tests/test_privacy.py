"""`forget` erases a customer everywhere and keeps anonymous metrics; retention blanks old text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import or_, select, update

from bot.config import Config
from bot.errors import ConnectorError, NotFound
from bot.retention import RetentionService
from responders.calendar import BusinessCalendar
from storage.bulk import table_of
from storage.db import Database
from storage.models import Base, Customer, Event, Interaction, OutboxMessage, StaffNotice, Ticket
from storage.privacy import forget
from storage.report_log import LogQuery, query_log_page
from storage.report_types import ReportQuery
from storage.reports import build_report
from storage.staff import StaffRepo
from storage.tickets import TicketRepo
from tests.scaleout_support import config_on, pg_url  # noqa: F401 - fixture
from tests.support.harness import FakeConnector, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


async def _seed(tmp_path: Path):  # type: ignore[no-untyped-def]
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("My name is Carla Diaz and my order 5521 is broken", id="c1", author="carla"),
        message("still broken, call me on 555-0101", id="c2", author="carla", thread="c1"),
        message("I love it", id="o1", author="olga"),
    )
    await run_once(config, [fake], StubScorer())
    return config


async def test_forget_erases_text_and_identity_but_keeps_metrics(tmp_path: Path) -> None:
    config = await _seed(tmp_path)
    db = Database(config.database_url)
    try:
        done = await forget(db, "fake:carla", "cli:dpo")
        assert done.customers == 1 and done.interactions >= 3  # 2 in + the acknowledgement
        async with db.session() as session:
            rows = list(await session.scalars(select(Interaction)))
            customers = list(await session.scalars(select(Customer)))
            outbox = list(await session.scalars(select(OutboxMessage)))
        everything = " ".join(
            [r.text + str(r.meta) for r in rows]
            + [str(c.handle) + c.external_id for c in customers]
            + [o.text + str(o.recipient_id) for o in outbox]
        )
        for secret in ("Carla", "carla", "5521", "555-0101"):
            assert secret not in everything
        carla_rows = [r for r in rows if r.meta == {"erased": True}]
        assert carla_rows and all(
            r.label and r.polarity is not None for r in carla_rows if r.direction == "in"
        )
        assert "I love it" in everything  # other customers untouched
        log = (await query_log_page(db, LogQuery(page_size=100))).entries
        assert any("I love it" in row.text for row in log)  # the log is not simply empty
        assert all("Carla" not in row.text and row.author != "carla" for row in log)
    finally:
        await db.close()


async def test_forget_unknown_customer_is_a_clear_error(tmp_path: Path) -> None:
    config = await _seed(tmp_path)
    db = Database(config.database_url)
    try:
        with pytest.raises(NotFound, match="no customer matches 'fake:nobody'"):
            await forget(db, "fake:nobody", "cli:dpo")
    finally:
        await db.close()


async def test_retention_blanks_text_older_than_the_setting(tmp_path: Path) -> None:
    config = await _seed(tmp_path)
    db = Database(config.database_url)
    try:
        service = RetentionService(db, days=30, interval=timedelta(days=1))
        assert await service.purge_once() == 0  # everything is new
        purged = await service.purge_once(now=datetime.now(UTC) + timedelta(days=31))
        assert purged >= 3
        async with db.session() as session:
            texts = list(await session.scalars(select(Interaction.text)))
            labels = list(await session.scalars(select(Interaction.label)))
        assert set(texts) == {""} and all(labels)
    finally:
        await db.close()


# -- everywhere the customer's words can end up: notices, refusals, event details ------------

CARLA_ADDRESS = "carla.diaz@example.com"
OLGA_ADDRESS = "olga.ortiz@example.com"
CARLA_WORDS = ("Carla Diaz", "5521", "555-0101", CARLA_ADDRESS)
OLGA_WORDS = ("Olga Ortiz", "7730", OLGA_ADDRESS)
ROWS = (Customer, Interaction, Ticket, Event, OutboxMessage, StaffNotice)
Rows = dict[tuple[str, int], dict[str, Any]]


def _refusal(address: str) -> ConnectorError:
    """An SMTP server's refusal quotes the recipient's address."""
    return ConnectorError(f"550 5.1.1 <{address}>: Recipient address rejected")


@pytest.fixture(params=["sqlite", "postgresql"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    if request.param == "sqlite":
        return make_config(tmp_path)
    return config_on(request.getfixturevalue("pg_url"), tmp_path)


async def _seed_desk(config: Config) -> dict[str, int]:
    """Two customers whose replies were refused, with notes and a queued agent reply.

    Carla's thanks (no ticket) and acknowledgement fail quoting her address: outbox errors,
    send_failed events, a reply_failed staff notice. Returns the tickets by handle.
    """
    fake = FakeConnector()
    fake.push(
        message("I love the colour - Carla Diaz", id="c0", author="carla"),
        message("My name is Carla Diaz and my order 5521 is broken", id="c1", author="carla"),
        message("still broken, call me on 555-0101", id="c2", author="carla", thread="c1"),
    )
    fake.fail_sends = [_refusal(CARLA_ADDRESS)] * 2
    await run_once(config, [fake], StubScorer())
    fake.push(message("Olga Ortiz here: lamp 7730 arrived broken", id="o1", author="olga"))
    fake.fail_sends = [_refusal(OLGA_ADDRESS)]
    await run_once(config, [fake], StubScorer())
    assert fake.sent == [] and fake.fail_sends == []  # every reply refused, as planned
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Customer.handle, Ticket.id).join(Ticket, Ticket.customer_id == Customer.id)
            )
            tickets = {str(handle): ticket_id for handle, ticket_id in rows}
        repo = TicketRepo(db)
        await repo.note(tickets["carla"], "Carla Diaz rang from 555-0101", "cli:jess")
        await repo.reply(tickets["carla"], "Sorry Carla Diaz, a new one ships today", "cli:jess")
        await repo.note(tickets["olga"], "Olga Ortiz wants a refund for 7730", "cli:jess")
    finally:
        await db.close()
    return tickets


async def _find_everywhere(db: Database, words: tuple[str, ...]) -> set[tuple[str, str, str]]:
    """(table.column, word, the row's status) for each word in any column of any row."""
    found = set()
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                values = row._asdict()
                for column, value in values.items():
                    # Text only: "5521" can be the microseconds of a timestamp or an id.
                    if not isinstance(value, str | dict | list):
                        continue
                    shown = json.dumps(value) if isinstance(value, dict | list) else value
                    found |= {
                        (f"{table.name}.{column}", word, str(values.get("status")))
                        for word in words
                        if word.lower() in shown.lower()
                    }
    return found


async def _rows(db: Database) -> Rows:
    async with db.session() as session:
        return {
            (model.__tablename__, row.id): row._asdict()
            for model in ROWS
            for row in await session.execute(select(table_of(model)))
        }


async def _carlas(db: Database, ticket_id: int) -> set[tuple[str, int]]:
    """Every row holding something of Carla's, and her ticket (her ticketless send_failed too)."""
    async with db.session() as session:
        mine = select(Interaction.id).join(Customer).where(Customer.handle == "carla")
        queries = {
            "customers": select(Customer.id).where(Customer.handle == "carla"),
            "interactions": mine,
            "outbox": select(OutboxMessage.id).where(OutboxMessage.inbound_id.in_(mine)),
            "staff_notices": select(StaffNotice.id).where(StaffNotice.ticket_id == ticket_id),
            "tickets": select(Ticket.id).where(Ticket.id == ticket_id),  # its card is redrawn
            "events": select(Event.id).where(
                or_(
                    Event.ticket_id == ticket_id,
                    Event.interaction_id.in_(mine),
                    (Event.type == "send_failed") & Event.ticket_id.is_(None),
                )
            ),
        }
        return {(name, i) for name, query in queries.items() for i in await session.scalars(query)}


async def _report(db: Database, config: Config, now: datetime) -> tuple[Any, ...]:
    query = ReportQuery(start=now - timedelta(days=2), end=now + timedelta(days=1))
    report = await build_report(db, query, BusinessCalendar(config.calendar), now=now)
    return report.volume, report.sentiment, report.response


async def test_forget_leaves_no_trace_in_notices_errors_or_event_details(config: Config) -> None:
    tickets = await _seed_desk(config)
    db = Database(config.database_url)
    try:
        seeded = await _find_everywhere(db, CARLA_WORDS)
        for where in ("staff_notices.text", "outbox.last_error", "events.data", "outbox.text"):
            assert any(hit[0] == where for hit in seeded), where  # the seed put them there
        carlas = await _carlas(db, tickets["carla"])
        now = datetime.now(UTC)
        before, report = await _rows(db), await _report(db, config, now)

        await forget(db, "fake:carla", "cli:dpo")

        assert await _find_everywhere(db, (*CARLA_WORDS, "carla")) == set()
        after = await _rows(db)
        changed = {key for key in after if before.get(key) != after[key]}
        [forgotten] = changed - carlas
        assert after[forgotten]["type"] == "customer_forgotten"  # nothing else of anyone's
        assert after.keys() - {forgotten} == before.keys()  # no row deleted
        olga = {hit[0] for hit in await _find_everywhere(db, OLGA_WORDS)}
        assert {"interactions.text", "staff_notices.text", "outbox.last_error"} <= olga
        assert "events.data" in olga
        assert await _report(db, config, now) == report  # metrics count the same rows
        for key in carlas:
            _assert_kept(key, before[key], after[key])
    finally:
        await db.close()


def _assert_kept(key: tuple[str, int], before: dict[str, Any], after: dict[str, Any]) -> None:
    """What forget keeps of a row: kind, status, labels, scores and the non-text details."""
    table = key[0]
    if table == "staff_notices":
        assert after["text"] == "(erased)"
        assert (after["kind"], after["status"]) == (before["kind"], before["status"])
    elif table == "events":
        assert (after["type"], after["actor"], after["at"]) == (
            before["type"],
            before["actor"],
            before["at"],
        )
        kept = {k: v for k, v in before["data"].items() if k not in ("text", "error")}
        if after["type"] in ("note", "send_failed"):
            assert after["data"] == {**kept, "erased": True}
            assert after["type"] == "note" or after["data"]["outbox_id"]
        else:
            assert after["data"] == before["data"]  # label, priority, scorer... stay
    elif table == "outbox":
        assert before["last_error"] is None or after["last_error"] in (
            "(erased)",
            "customer erased",
        )
        assert (after["purpose"], after["ticket_id"]) == (before["purpose"], before["ticket_id"])
    elif table == "interactions":
        assert (after["label"], after["polarity"]) == (before["label"], before["polarity"])
    elif table == "tickets":  # at most a newer version (forget: a posted card is redrawn)
        changed = {k for k in after if after[k] != before[k]}
        assert changed <= {"updated_at"}, changed


async def _backdate(db: Database, keys: set[tuple[str, int]], days: int) -> None:
    """Move these rows ``days`` into the past, as if written then."""
    when = datetime.now(UTC) - timedelta(days=days)
    written = {Interaction: "created_at", OutboxMessage: "created_at", StaffNotice: "created_at"}
    async with db.transaction() as session:
        for model, column in {**written, Event: "at"}.items():
            table = table_of(model)
            ids = [i for name, i in keys if name == table.name]
            await session.execute(update(table).where(table.c.id.in_(ids)).values({column: when}))


async def test_retention_clears_old_notices_errors_and_event_details_only(config: Config) -> None:
    tickets = await _seed_desk(config)
    db = Database(config.database_url)
    try:
        carlas = await _carlas(db, tickets["carla"])
        await _backdate(db, carlas, days=60)
        await _with_subject(db, carlas, "Carla Diaz: order 5521")  # as the email connector keeps it
        before = await _rows(db)
        service = RetentionService(db, days=30, interval=timedelta(days=1))

        assert await service.purge_once() == 3  # Carla's three messages

        # Only the agent's reply still waiting to be sent keeps its text (it is never blanked
        # before it is sent); her handle stays until she asks to be forgotten.
        left = {(where, status) for where, _, status in await _find_everywhere(db, CARLA_WORDS)}
        assert left == {("outbox.text", "pending"), ("outbox.meta", "pending")}
        olga = {hit[0] for hit in await _find_everywhere(db, OLGA_WORDS)}
        assert {"interactions.text", "staff_notices.text", "outbox.last_error"} <= olga
        assert "events.data" in olga
        after = await _rows(db)
        waiting = {k for k in carlas if k[0] == "outbox" and after[k]["status"] == "pending"}
        blanked = {k for k in carlas - waiting if k[0] != "customers"}
        assert len(waiting) == 1 and {k[0] for k in blanked} >= {"staff_notices", "events"}
        for key in blanked:
            _assert_kept(key, before[key], after[key])
        metas = [after[key]["meta"] for key in blanked if key[0] in ("interactions", "outbox")]
        assert len(metas) == 5 and all("subject" not in m for m in metas)
        assert all(m["author_id"] == "uid-carla" for m in metas)  # the rest of meta stays
        assert await service.purge_once() == 0
        assert await _rows(db) == after  # nothing left to clear: nothing rewritten or logged
        purges = [row for row in after.values() if row.get("type") == "retention_purge"]
        assert [p["data"]["notices"] for p in purges] == [1] and purges[0]["data"]["events"] == 3
    finally:
        await db.close()


async def _with_subject(db: Database, keys: set[tuple[str, int]], subject: str) -> None:
    """These messages and replies get an email subject in their meta."""
    async with db.transaction() as session:
        for model in (Interaction, OutboxMessage):
            for row in await session.scalars(select(model)):
                if (model.__tablename__, row.id) in keys:
                    row.meta = {**row.meta, "subject": subject}


async def test_forget_makes_the_board_edit_cards_already_posted(tmp_path: Path) -> None:
    config = await _seed(tmp_path)
    db = Database(config.database_url)
    try:
        staff = StaffRepo(db)
        async with db.transaction() as session:
            for ticket in await session.scalars(select(Ticket)):
                ticket.staff_message_id = f"card-{ticket.id}"
                ticket.staff_synced_at = ticket.updated_at  # posted and up to date
        assert await staff.dirty_cards() == []
        await forget(db, "fake:carla", "cli:dpo")
        cards = await staff.dirty_cards()
        assert cards, "the posted card of the erased customer's ticket must be edited"
        for card in cards:
            shown = f"{card.customer} {card.text}"
            assert "Carla" not in shown and "carla" not in shown and "5521" not in shown
    finally:
        await db.close()
