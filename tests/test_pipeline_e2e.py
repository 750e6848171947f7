"""The daemon end to end through a fake connector: reads like a conversation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from bot.errors import ConnectorError, TransientError
from connectors.base import Kind
from storage.db import Database
from storage.models import Event, Interaction, OutboxMessage, Ticket
from tests.support.harness import FakeConnector, count_rows, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


async def test_complaint_gets_one_ticket_and_one_ack_in_its_thread(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("My blender arrived broken", id="m1", thread="conv-9"))

    stats = await run_once(config, [fake], StubScorer())

    assert stats.tickets_opened == 1
    assert len(fake.sent) == 1
    ack = fake.sent[0]
    assert ack.thread == "conv-9" and ack.in_reply_to == "m1"
    assert "ticket #1" in ack.text and "24 business hours" in ack.text
    assert await count_rows(config, Ticket) == 1
    # inbound and the outbound acknowledgement are both in the log
    assert await count_rows(config, Interaction, direction="in") == 1
    assert await count_rows(config, Interaction, direction="out", label="ack") == 1


async def test_praise_gets_thanks_and_no_ticket(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("I love the new drill", id="p1"))

    stats = await run_once(config, [fake], StubScorer())

    assert stats.tickets_opened == 0
    assert [s.in_reply_to for s in fake.sent] == ["p1"]
    assert fake.sent[0].text.startswith("Thank you @alice")


async def test_praise_reply_can_be_switched_off(tmp_path: Path) -> None:
    config = make_config(tmp_path, routing={"praise_reply": False})
    fake = FakeConnector()
    fake.push(message("I love the new drill", id="p1"))
    await run_once(config, [fake], StubScorer())
    assert fake.sent == []


async def test_duplicate_bot_and_own_messages_get_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("Order never arrived", id="d1"),
        message("Order never arrived", id="d1"),  # the platform redelivers
        message("Automated: your ticket is broken", id="b1", author="otherbot", is_bot=True),
        message("We are sorry it was late", id="s1", author="us", is_self=True),
    )

    stats = await run_once(config, [fake], StubScorer())

    assert stats.duplicates == 1
    assert [s.in_reply_to for s in fake.sent] == ["d1"]
    assert await count_rows(config, Interaction, direction="in") == 3
    assert await count_rows(config, Interaction, status="ignored") == 2


async def test_every_read_message_is_committed_to_the_connector_after_storing(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("a", id="1"), message("b", id="2"))
    await run_once(config, [fake], StubScorer())
    assert fake.committed_ids == ["1", "2"]


async def test_restart_resumes_from_cursor_and_sends_nothing_twice(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("Refund please, it is broken", id="r1"))
    await run_once(config, [fake], StubScorer())
    fake.push(message("Still broken, never fixed", id="r2", author="bob"))

    await run_once(config, [fake], StubScorer())  # a new daemon on the same database

    assert sorted(s.in_reply_to or "" for s in fake.sent) == ["r1", "r2"]
    assert await count_rows(config, OutboxMessage, purpose="ack") == 2


async def test_stored_but_unprocessed_messages_are_processed_after_restart(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("It is broken", id="u1"), message("Lost my bag", id="u2", author="bob"))

    class Crashing(StubScorer):
        def score(self, text: str):  # type: ignore[no-untyped-def]
            raise RuntimeError("worker died")

    await run_once(config, [fake], Crashing())  # stored, never processed
    assert fake.sent == []
    assert await count_rows(config, Interaction, status="pending") == 2

    await run_once(config, [fake], StubScorer())

    assert sorted(s.in_reply_to or "" for s in fake.sent) == ["u1", "u2"]
    assert await count_rows(config, Interaction, status="pending") == 0


async def test_reply_in_doubt_after_crash_is_reconciled_not_resent(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("Broken again", id="c1"))
    await run_once(config, [fake], StubScorer())
    assert len(fake.sent) == 1
    # Simulate a crash after the platform accepted the post but before it was marked sent.
    db = Database(config.database_url)
    async with db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None
        sent = await session.get(Interaction, row.outbound_interaction_id)
        row.status, row.sent_at, row.sent_external_id, row.outbound_interaction_id = (
            "sending",
            None,
            None,
            None,
        )
        await session.flush()
        await session.execute(delete(Event).where(Event.interaction_id == sent.id))
        await session.delete(sent)
    await db.close()

    await run_once(config, [fake], StubScorer())

    assert len(fake.sent) == 1  # asked the platform, did not post again
    assert await count_rows(config, OutboxMessage, status="sent") == 1
    assert await count_rows(config, Interaction, direction="out") == 1


async def test_transient_send_failure_is_retried_then_sent_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.fail_sends.append(TransientError("503 from platform"))
    fake.push(message("Lost luggage", id="t1"))

    await run_once(config, [fake], StubScorer())
    assert fake.sent == []
    db = Database(config.database_url)
    async with db.transaction() as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None and row.status == "pending" and row.attempts == 1
        assert "503" in (row.last_error or "")
        row.next_attempt_at = row.created_at  # due now
    await db.close()

    await run_once(config, [fake], StubScorer())
    assert [s.in_reply_to for s in fake.sent] == ["t1"]


async def test_refused_send_is_marked_failed_and_not_retried(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.fail_sends.append(ConnectorError("403 you cannot reply to this user"))
    fake.push(message("terrible", id="f1"))
    stats = await run_once(config, [fake], StubScorer())
    assert stats.replies_failed == 1
    assert await count_rows(config, OutboxMessage, status="failed") == 1


async def test_follow_up_in_same_thread_joins_ticket_without_second_ack(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("My order is late", id="a1", thread="t"),
        message("Hello?? still late", id="a2", thread="t"),
    )
    stats = await run_once(config, [fake], StubScorer())
    assert stats.tickets_opened == 1 and stats.tickets_joined == 1
    assert len(fake.sent) == 1
    assert await count_rows(config, Interaction, ticket_id=1, direction="in") == 2


async def test_other_customers_in_same_thread_get_their_own_ticket(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("My order is late", id="a1", thread="t", author="ann"),
        message("Mine is lost too", id="a2", thread="t", author="ben"),
    )
    stats = await run_once(config, [fake], StubScorer())
    assert stats.tickets_opened == 2


async def test_dm_ack_goes_to_the_dm_without_at_mention(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("refund me", id="dm1", kind=Kind.DM, thread="dm-conv-1", author="zed"))
    await run_once(config, [fake], StubScorer())
    reply = fake.sent[0]
    assert reply.kind == Kind.DM and reply.thread == "dm-conv-1" and reply.recipient_id == "uid-zed"
    assert reply.text.startswith("Hi zed,")


async def test_ack_respects_connector_length_limit(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector(max_length=60)
    fake.push(message("broken", id="L1", author="a" * 30))
    await run_once(config, [fake], StubScorer())
    assert len(fake.sent) == 1 and len(fake.sent[0].text) <= 60


async def test_default_textblob_scorer_runs_the_pipeline(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("This is the worst, terrible service", id="tb1"))
    stats = await run_once(config, [fake])
    assert stats.labels["complaint"] == 1
    db = Database(config.database_url)
    async with db.session() as session:
        row = await session.scalar(select(Interaction).where(Interaction.external_id == "tb1"))
    await db.close()
    assert row is not None and row.polarity is not None and row.polarity < 0
    assert row.subjectivity is not None and row.scorer_version


async def test_connector_with_bad_settings_stops_alone(tmp_path: Path) -> None:
    from bot.errors import ConfigError

    class Misconfigured(FakeConnector):
        async def connect(self) -> None:
            raise ConfigError("X_BEARER_TOKEN is not set")

    config = make_config(tmp_path)
    good, bad = FakeConnector("good"), Misconfigured("bad")
    good.push(message("my parcel is broken", id="g1", channel="good"))
    stats = await run_once(config, [good, bad], StubScorer())
    assert [s.in_reply_to for s in good.sent] == ["g1"]
    assert stats.connector_errors["bad"] == 1
    assert "X_BEARER_TOKEN is not set" in (bad.health().last_error or "")


async def test_our_reply_read_back_before_it_is_marked_sent_is_linked(tmp_path: Path) -> None:
    """A platform shows our own reply in the stream before the sender records it."""
    config = make_config(tmp_path)

    class Echoing(FakeConnector):
        async def send(self, reply):  # type: ignore[no-untyped-def]
            ref = await super().send(reply)
            # the platform already delivered our post to the stream, and ingest stored it
            await self.ctx.cursors.record(  # type: ignore[attr-defined]
                message(
                    reply.text, id=ref.external_id, author="us", is_self=True, channel=self.name
                )
            )
            return ref

    fake = Echoing()
    fake.push(message("my order is broken", id="e1"))
    await run_once(config, [fake], StubScorer())
    assert len(fake.sent) == 1
    assert await count_rows(config, OutboxMessage, status="sent") == 1
    assert await count_rows(config, Interaction, direction="out", label="ack") == 1


async def test_each_customer_in_a_shared_thread_is_acknowledged(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("My order is late", id="s1", thread="brand-post", author="ann"),
        message("Mine is broken", id="s2", thread="brand-post", author="ben"),
        message("still late!!", id="s3", thread="brand-post", author="ann"),
    )
    await run_once(config, [fake], StubScorer())
    assert sorted(s.in_reply_to or "" for s in fake.sent) == ["s1", "s2"]


async def test_praise_twice_in_a_thread_is_thanked_once(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("I love it", id="l1", thread="t"))
    await run_once(config, [fake], StubScorer())
    fake.push(message("Really, I love it, thanks", id="l2", thread="t"))
    await run_once(config, [fake], StubScorer())
    assert [s.in_reply_to for s in fake.sent] == ["l1"]
