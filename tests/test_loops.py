"""Loops and abuse: bots talking to each other, floods from one account, our own pace."""

from __future__ import annotations

from pathlib import Path

from bot.sender import TokenBucket
from storage.models import OutboxMessage
from tests.support.harness import FakeConnector, count_rows, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


async def test_an_unflagged_bot_answering_our_acks_gets_one_ack_only(tmp_path: Path) -> None:
    """Another brand's auto-responder (not marked as a bot) replies to each of our replies."""
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(message("Your delivery is late", id="loop-0", author="otherbrand", thread="t"))
    await run_once(config, [fake], StubScorer())
    for round_ in range(1, 6):  # five rounds of it answering whatever we sent
        fake.push(
            message(
                f"We are sorry it is late (auto-reply {round_})",
                id=f"loop-{round_}",
                author="otherbrand",
                thread="t",
            )
        )
        await run_once(config, [fake], StubScorer())
    assert len(fake.sent) == 1


async def test_flood_from_one_account_gets_one_acknowledgement(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        *[
            message(f"refund now!!! #{n}", id=f"flood-{n}", author="angry", thread=f"thread-{n}")
            for n in range(40)
        ]
    )
    stats = await run_once(config, [fake], StubScorer())
    assert stats.stored == 40  # every message is logged...
    assert len(fake.sent) == 1  # ...and acknowledged once
    assert stats.tickets_opened == 1 and stats.tickets_joined == 39


async def test_two_of_our_bots_never_answer_each_other(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    fake.push(
        message("Hi, this is a broken auto-reply", id="b1", author="botA", is_bot=True),
        message("Auto-reply: we never got it", id="b2", author="botB", is_bot=True, thread="b1"),
    )
    await run_once(config, [fake], StubScorer())
    assert fake.sent == []


def test_token_bucket_paces_replies_under_the_platform_limit() -> None:
    now = [0.0]
    bucket = TokenBucket(6.0, clock=lambda: now[0])  # six a minute
    sent = 0
    for _second in range(120):  # two minutes of a sender that always has work
        while bucket.available() >= 1:
            bucket.take()
            sent += 1
        now[0] += 1.0
    assert sent <= 6 + 12  # the first minute's burst plus the steady rate
    assert TokenBucket(None).available() > 1000


async def test_sender_holds_back_replies_over_the_pace(tmp_path: Path) -> None:
    config = make_config(tmp_path, bot={"drain_timeout_seconds": 0.5})
    fake = FakeConnector()
    fake.send_rate_per_minute = 2.0
    fake.push(*[message(f"broken {n}", id=f"p{n}", author=f"user{n}") for n in range(5)])
    await run_once(config, [fake], StubScorer())
    assert len(fake.sent) == 2  # the rest waits in the outbox, nothing is lost
    assert await count_rows(config, OutboxMessage, status="pending") == 3
