"""Two workers on one database never double a ticket, an acknowledgement or a send.

Each worker has its own Database (its own connections), as two processes would. On
PostgreSQL the claim is SELECT ... FOR UPDATE plus advisory locks per customer and thread;
on SQLite the claim is an UPDATE ... WHERE status = 'pending' under the write lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import Inbound, SentRef
from responders.routing import Router, RoutingSettings
from storage.db import Database
from storage.decisions import DecisionInput, DecisionRepo
from storage.inbound import InboundRepo
from storage.models import Event, OutboxMessage, Ticket
from storage.outbox import OutboxRepo
from tests.scaleout_support import pg_url  # noqa: F401 - fixture
from tests.support.harness import message
from tests.support.stub_scorer import StubScorer

ROUTER = Router(RoutingSettings())
SCORER = StubScorer()


@pytest.fixture(params=["postgresql", "sqlite"])
async def two_workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Database, Database]]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    first, second = Database(url), Database(url)
    await first.upgrade()
    yield first, second
    await first.close()
    await second.close()


def decision(interaction_id: int, text: str) -> DecisionInput:
    scores = SCORER.score(text)
    return DecisionInput(
        interaction_id=interaction_id,
        scores=scores,
        decision=ROUTER.route(text, scores),
        join_window=timedelta(hours=72),
        ack_cooldown=timedelta(minutes=60),
        render=lambda template, ticket: f"{template} for ticket {ticket}",
        due_at=lambda received: received + timedelta(hours=24),
    )


async def store(db: Database, *items: Inbound) -> list[int]:
    ids = await InboundRepo(db).record_many(items)
    assert None not in ids
    return [i for i in ids if i is not None]


async def count(db: Database, model: type, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_one_message_taken_by_two_workers_is_decided_once(
    two_workers: tuple[Database, Database],
) -> None:
    first, second = two_workers
    rounds = 15
    for n in range(rounds):
        [iid] = await store(first, message(f"order {n} arrived broken", id=f"m{n}", author=f"a{n}"))
        data = decision(iid, f"order {n} arrived broken")
        a, b = await asyncio.gather(
            DecisionRepo(first).apply_many([data]), DecisionRepo(second).apply_many([data])
        )
        taken = [outcome for outcome in a + b if outcome is not None]
        assert len(taken) == 1, f"round {n}: decided by {len(taken)} workers"
    assert await count(first, Ticket) == rounds
    assert await count(first, OutboxMessage, OutboxMessage.purpose == "ack") == rounds
    assert await count(first, Event, Event.type == "scored") == rounds


async def test_same_conversation_on_two_workers_gets_one_ticket_and_one_ack(
    two_workers: tuple[Database, Database],
) -> None:
    first, second = two_workers
    rounds = 10
    for n in range(rounds):
        opening, follow_up = await store(
            first,
            message("my parcel never arrived", id=f"o{n}", thread=f"t{n}", author=f"c{n}"),
            message("still never arrived, refund", id=f"f{n}", thread=f"t{n}", author=f"c{n}"),
        )
        await asyncio.gather(
            DecisionRepo(first).apply_many([decision(opening, "my parcel never arrived")]),
            DecisionRepo(second).apply_many([decision(follow_up, "still never arrived, refund")]),
        )
        assert await count(first, Ticket, Ticket.thread == f"t{n}") == 1, f"round {n}"
        acks = await count(
            first, OutboxMessage, OutboxMessage.thread == f"t{n}", OutboxMessage.purpose == "ack"
        )
        assert acks == 1, f"round {n}: {acks} acknowledgements in one thread"


async def test_two_senders_claim_disjoint_replies(
    two_workers: tuple[Database, Database],
) -> None:
    first, second = two_workers
    items = [message(f"item {n} is broken", id=f"s{n}", author=f"s{n}") for n in range(40)]
    ids = await store(first, *items)
    await DecisionRepo(first).apply_many(
        [decision(i, item.text) for i, item in zip(ids, items, strict=True)]
    )
    one, two = await asyncio.gather(
        OutboxRepo(first).claim_due({"fake"}, limit=25),
        OutboxRepo(second).claim_due({"fake"}, limit=25),
    )
    claimed_one = {item.outbox_id for item in one}
    claimed_two = {item.outbox_id for item in two}
    assert not claimed_one & claimed_two
    assert len(claimed_one | claimed_two) == 40
    # Rows in flight are leased: a second sender starting up leaves them alone.
    assert await OutboxRepo(second).in_doubt() == []
    await OutboxRepo(first).mark_sent_many([(item, SentRef(f"x-{item.outbox_id}")) for item in one])
    assert await count(first, OutboxMessage, OutboxMessage.status == "sent") == len(one)
