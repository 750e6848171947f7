"""The labelled history `train-triage` learns from: only what a person confirmed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.db import Database
from storage.labels import labelled_history
from storage.models import Interaction, Ticket

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def message(n: int, text: str, agent_label: str | None = None, days_ago: int = 1) -> Interaction:
    return Interaction(
        id=n,
        direction="in",
        channel="x",
        kind="mention",
        external_id=f"e{n}",
        thread=f"t{n}",
        text=text,
        agent_label=agent_label,
        created_at=NOW - timedelta(days=days_ago),
    )


def ticket(n: int, origin: int, label: str, status: str, resolution: str | None) -> Ticket:
    return Ticket(
        id=n,
        origin_interaction_id=origin,
        channel="x",
        thread=f"t{origin}",
        label=label,
        status=status,
        resolution=resolution,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'labels.sqlite3'}")
    await database.upgrade()
    async with database.transaction() as s:
        s.add_all(
            [
                message(1, "my bag is lost", agent_label="complaint"),
                message(2, "love the new app", agent_label="not_complaint"),
                message(3, "refund me now", days_ago=30),  # ticket resolved with a refund
                message(4, "can I bring my dog?"),  # question ticket answered with info
                message(5, "parcel late again"),  # complaint ticket resolved, not corrected
                message(6, "where is my order"),  # ticket still open: not a label yet
                message(7, "great service!"),  # nobody looked at it: not a label
                message(8, "", agent_label="complaint"),  # erased text: skipped
                message(9, "is it a complaint?", agent_label="not_complaint"),  # correction wins
                Interaction(
                    id=10,
                    direction="out",
                    channel="x",
                    kind="mention",
                    external_id="o10",
                    thread="t1",
                    text="sorry to hear",
                    agent_label="complaint",  # our own replies are never training data
                    created_at=NOW,
                ),
            ]
        )
        await s.flush()
        s.add_all(
            [
                ticket(1, 3, "question", "resolved", "refund"),
                ticket(2, 4, "question", "closed", "info"),
                ticket(3, 5, "complaint", "resolved", "other"),
                ticket(4, 6, "complaint", "open", None),
                ticket(5, 9, "complaint", "resolved", "other"),
            ]
        )
    try:
        yield database
    finally:
        await database.close()


async def test_only_confirmed_labels_in_message_order(db: Database) -> None:
    assert await labelled_history(db) == [
        ("my bag is lost", True),
        ("love the new app", False),
        ("refund me now", True),
        ("can I bring my dog?", False),
        ("parcel late again", True),
        ("is it a complaint?", False),
    ]


async def test_since_limits_the_history(db: Database) -> None:
    rows = await labelled_history(db, since=NOW - timedelta(days=7))
    assert ("refund me now", True) not in rows and len(rows) == 5
