"""A reply that fails for good tells the staff: one notice on its ticket, posted once.

The customer would otherwise get no acknowledgement or answer and nobody would know; a
reply that is only retried later tells nobody yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.dashboard.views import ticket_page
from bot.desk.board import StaffBoard
from bot.errors import ConnectorError, TransientError
from connectors.base import Kind
from storage.db import Database
from storage.models import OutboxMessage, StaffNotice
from storage.outbox import OutboxRepo, PendingReply
from storage.report_log import ticket_history
from storage.staff import Notice, StaffRepo, TicketCard
from storage.tickets import TicketRepo
from tests.support.desk_kit import events, notices, outbox
from tests.support.harness import FakeConnector, make_config, message, run_once
from tests.support.stub_scorer import StubScorer
from tests.test_secrets import TOKENS

REFUSAL = "X refused the DM: the app lacks the Direct Message permission (send DM: 403)"


class RecordingPoster:
    """The staff channel in memory: what the board posted, with made-up message ids."""

    def __init__(self) -> None:
        self.cards: list[TicketCard] = []
        self.notices: list[tuple[Notice, str | None]] = []  # with the card it replied to

    async def post_card(self, card: TicketCard) -> str:
        self.cards.append(card)
        return card.message_id or f"card-{card.id}"

    async def post_notice(self, notice: Notice, card: TicketCard | None) -> str:
        self.notices.append((notice, card.message_id if card else None))
        return f"notice-{notice.id}"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, bot={"send_max_attempts": 3})


@pytest.fixture
async def db(config: Config) -> AsyncIterator[Database]:
    database = Database(config.database_url)
    try:
        yield database
    finally:
        await database.close()


async def complaint_with_failing_ack(config: Config, error: Exception) -> FakeConnector:
    """A DM complaint ticketed by the pipeline, whose acknowledgement's send raises error."""
    fake = FakeConnector()
    fake.fail_sends.append(error)
    fake.push(message("my parcel never arrived", id="c1", kind=Kind.DM, thread="dm-1"))
    await run_once(config, [fake], StubScorer())
    return fake


async def test_refused_reply_queues_one_notice_with_its_reason(
    config: Config, db: Database
) -> None:
    fake = await complaint_with_failing_ack(config, ConnectorError(REFUSAL))

    assert fake.sent == []
    [ack] = await outbox(db, "ack")
    assert ack.status == "failed" and ack.ticket_id is not None
    [failed] = await events(db, ack.ticket_id, "send_failed")
    [notice] = await notices(db, "reply_failed")
    assert notice.ticket_id == ack.ticket_id and notice.dedupe_key == str(ack.id)
    assert notice.status == "pending"  # no staff channel here (CLI-only desk): it waits
    assert f"acknowledgement for ticket #{ack.ticket_id} on fake (dm)" in notice.text
    assert REFUSAL in notice.text and REFUSAL in failed.data["error"]
    assert "answer them another way" in notice.text
    assert notice.mention is None  # nobody claimed the ticket yet: nobody to ping


async def test_transient_failure_is_retried_without_a_notice(config: Config, db: Database) -> None:
    await complaint_with_failing_ack(config, TransientError("X create DM: 503"))

    [ack] = await outbox(db, "ack")
    assert ack.status == "pending" and ack.attempts == 1  # retried later
    assert ack.last_error is not None and "503" in ack.last_error
    assert await notices(db) == []


async def test_reply_given_up_after_its_last_attempt_queues_a_notice(tmp_path: Path) -> None:
    config = make_config(tmp_path, bot={"send_max_attempts": 1})
    await complaint_with_failing_ack(config, TransientError("X create DM: 503"))

    db = Database(config.database_url)
    try:
        [ack] = await outbox(db, "ack")
        [notice] = await notices(db, "reply_failed")
    finally:
        await db.close()
    assert ack.status == "failed"
    assert notice.ticket_id == ack.ticket_id and "transient: X create DM: 503" in notice.text


async def _claimed(db: Database, outbox_id: int) -> PendingReply:
    """The reply taken by a sender, as the sender would hold it when its send fails."""
    [item] = await OutboxRepo(db).claim_due({"fake"})
    assert item.outbox_id == outbox_id
    return item


async def test_failed_agent_reply_pings_its_author_once_and_keeps_secrets_out(
    config: Config, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await complaint_with_failing_ack(config, ConnectorError(REFUSAL))
    [ack] = await outbox(db, "ack")
    assert ack.ticket_id is not None
    reply_id = await TicketRepo(db).reply(ack.ticket_id, "A new one is on its way", "discord:42")
    monkeypatch.setenv("X_BEARER_TOKEN", TOKENS["X_BEARER_TOKEN"])
    error = f"refused: bad request for {TOKENS['X_BEARER_TOKEN']}\n" + "x" * 2000
    repo = OutboxRepo(db)
    item = await _claimed(db, reply_id)

    await repo.mark_failed(item, error, None)
    await repo.mark_failed(item, error, None)  # recorded twice (a retried transaction)

    [notice] = [n for n in await notices(db, "reply_failed") if n.dedupe_key == str(reply_id)]
    assert notice.text.startswith(f"Reply failed: the agent reply for ticket #{ack.ticket_id}")
    assert notice.mention == "user:42"
    assert TOKENS["X_BEARER_TOKEN"] not in notice.text and "***" in notice.text
    assert "\n" not in notice.text and len(notice.text) < 600  # one line, reason trimmed
    async with db.session() as session:
        row = await session.get(OutboxMessage, reply_id)
        assert row is not None and row.last_error is not None
        assert TOKENS["X_BEARER_TOKEN"] not in row.last_error


async def test_retry_of_a_ticket_reply_queues_no_notice(config: Config, db: Database) -> None:
    await complaint_with_failing_ack(config, ConnectorError(REFUSAL))
    [ack] = await outbox(db, "ack")
    assert ack.ticket_id is not None
    reply_id = await TicketRepo(db).reply(ack.ticket_id, "A new one is on its way", "cli:jess")

    await OutboxRepo(db).mark_failed(
        await _claimed(db, reply_id), "transient: timeout", timedelta(minutes=1)
    )

    assert [n.dedupe_key for n in await notices(db, "reply_failed")] == [str(ack.id)]


async def test_board_posts_the_notice_once_under_the_ticket_card(
    config: Config, db: Database
) -> None:
    await complaint_with_failing_ack(config, ConnectorError(REFUSAL))
    [ack] = await outbox(db, "ack")
    poster = RecordingPoster()
    board = StaffBoard(StaffRepo(db), poster)

    await board.sync_once()
    await board.sync_once()

    [(notice, replied_to)] = poster.notices
    assert notice.kind == "reply_failed" and notice.ticket_id == ack.ticket_id
    assert REFUSAL in notice.text
    assert replied_to == f"card-{ack.ticket_id}"  # posted under the ticket's card
    async with db.session() as session:
        row = await session.scalar(select(StaffNotice).where(StaffNotice.id == notice.id))
        assert row is not None and row.status == "sent" and row.attempts == 1


async def test_dashboard_history_shows_why_the_reply_failed(config: Config, db: Database) -> None:
    await complaint_with_failing_ack(config, ConnectorError("refused <b>by</b> the platform"))
    [ack] = await outbox(db, "ack")
    assert ack.ticket_id is not None

    page = ticket_page(await ticket_history(db, ack.ticket_id))

    assert "send_failed" in page
    assert "error: refused: refused &lt;b&gt;by&lt;/b&gt; the platform" in page  # escaped
