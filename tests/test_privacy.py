"""`forget` erases a customer everywhere and keeps anonymous metrics; retention blanks old text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.errors import NotFound
from bot.retention import RetentionService
from storage.db import Database
from storage.models import Customer, Interaction, OutboxMessage
from storage.privacy import forget
from storage.report_log import LogQuery, query_log_page
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
