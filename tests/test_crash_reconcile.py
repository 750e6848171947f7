"""Crash leftovers settled, lease or not, and a sender that outlives its own bugs.

A sender killed between posting a reply and recording it leaves the outbox row `sending`
with a lease. A daemon with its own in-process queue is the database's only sender: on start
it settles every such row at once. A worker sharing a queue (scale-out) cannot tell a dead
sender's row from a live one's, so it waits for the lease to run out and its running sender
settles the row then. Either way the platform is asked first (``find_sent``): a reply that
was already posted is recorded, not posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import update

import bot.sender
from bot.config import Config
from bot.daemon import Daemon
from bot.errors import TransientError
from bot.health import snapshot
from bot.queue import MemoryQueue, WorkQueue
from connectors.base import Outbound
from storage.db import Database
from storage.models import Event, OutboxMessage, now_utc
from tests.support.harness import FakeConnector, count_rows, make_config, message, run_once
from tests.support.stub_scorer import StubScorer


async def wait_for(predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(daemon: Daemon) -> AsyncIterator[None]:
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        yield
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 60)


async def _left_sending(config: Config) -> int:
    """An ack in the outbox, left `sending` by a sender that died a moment ago."""
    fake = FakeConnector()
    fake.fail_sends = [TransientError("503")]  # the first run does not get it out
    fake.push(message("my parcel is lost", id="m1", author="ann"))
    await run_once(config, [fake], StubScorer())
    db = Database(config.database_url)
    try:
        async with db.transaction() as session:
            row = (await session.execute(OutboxMessage.__table__.select())).first()
            assert row is not None
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    status="sending",
                    lease_until=now_utc() + timedelta(minutes=5),
                    next_attempt_at=now_utc(),  # it was due when the dead sender claimed it
                )
            )
            return int(row.id)
    finally:
        await db.close()


async def _lease_runs_out(config: Config) -> None:
    db = Database(config.database_url)
    try:
        async with db.transaction() as session:
            await session.execute(
                update(OutboxMessage).values(lease_until=now_utc() - timedelta(seconds=1))
            )
    finally:
        await db.close()


class SharedQueue:
    """Stands for a queue other worker processes share (Redis): not this process's own."""

    def __init__(self) -> None:
        self._inner = MemoryQueue(100)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.mark.parametrize("posted", [True, False])
async def test_single_daemon_settles_its_leftovers_at_start_while_the_lease_runs(
    tmp_path: Path, posted: bool
) -> None:
    config = make_config(tmp_path)
    outbox_id = await _left_sending(config)  # killed a moment ago: 5 minutes of lease left
    fake = FakeConnector()
    if posted:  # the dead sender got it onto the platform before it died
        fake.sent.append(_reply(outbox_id))
    daemon = Daemon(config, connectors=[fake], scorer=StubScorer())
    fake.bind(daemon.storage.inbound)
    await daemon.start()
    await daemon.sender.flush(10)
    await daemon.storage.db.close()
    assert [r.idempotency_key for r in fake.sent] == [f"socialbot-outbox-{outbox_id}"]
    assert await count_rows(config, OutboxMessage, status="sent") == 1
    assert await count_rows(config, Event, type="sent_ack") == 1


@pytest.mark.parametrize("posted", [True, False])
async def test_shared_queue_worker_settles_a_dead_senders_row_once_its_lease_runs_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, posted: bool
) -> None:
    monkeypatch.setattr(bot.sender, "RECONCILE_SECONDS", 0.1)
    config = make_config(tmp_path)
    outbox_id = await _left_sending(config)
    fake = FakeConnector()
    if posted:
        fake.sent.append(_reply(outbox_id))
    queue = cast(WorkQueue, SharedQueue())
    daemon = Daemon(config, connectors=[fake], scorer=StubScorer(), queue=queue)
    fake.bind(daemon.storage.inbound)
    async with running(daemon):
        fake.push(  # the platform's stream again (m1 is stored already), then something new
            message("my parcel is lost", id="m1", author="ann"),
            message("and the app is broken", id="m2", author="bob"),
        )
        await wait_for(lambda: daemon.stats.replies_sent["ack"] == 1)  # up and sending
        # The lease still ran at start: the row was not touched (it could be in flight)...
        assert await count_rows(config, OutboxMessage, status="sending") == 1
        await _lease_runs_out(config)
        # ...once it has run out, the running sender settles it.
        await wait_for(lambda: daemon.stats.replies_sent["ack"] == (1 if posted else 2), 30)
        await _wait_rows(config, status="sent", count=2)
    keys = [r.idempotency_key for r in fake.sent if r.in_reply_to == "m1"]
    assert keys == [f"socialbot-outbox-{outbox_id}"]  # posted once, before or after the crash
    assert await count_rows(config, Event, type="sent_ack") == 2


def _reply(outbox_id: int) -> Outbound:
    from connectors.base import Kind

    return Outbound(
        channel="fake",
        kind=Kind.MENTION,
        thread="m1",
        text="(posted before the crash)",
        in_reply_to="m1",
        recipient_id=None,
        idempotency_key=f"socialbot-outbox-{outbox_id}",
    )


async def _wait_rows(config: Config, count: int, **where: Any) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while await count_rows(config, OutboxMessage, **where) != count:
        assert asyncio.get_running_loop().time() < deadline, f"outbox never had {where}"
        await asyncio.sleep(0.05)


async def test_sender_outlives_an_unexpected_error_and_keeps_answering(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    fake = FakeConnector()
    daemon = Daemon(config, connectors=[fake], scorer=StubScorer())
    fake.bind(daemon.storage.inbound)
    claim = daemon.storage.outbox.claim_due
    calls = 0

    async def claim_with_a_bug(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in the sender's bookkeeping")
        return await claim(*args, **kwargs)

    daemon.storage.outbox.claim_due = claim_with_a_bug  # type: ignore[method-assign]
    async with running(daemon):
        fake.push(message("the app is broken", id="m1", author="ann"))
        await wait_for(lambda: len(fake.sent) == 1)
        fake.push(message("still broken, refund", id="m2", author="bob"))
        await wait_for(lambda: len(fake.sent) == 2)
        health = await snapshot(daemon)
    assert daemon.stats.sender_errors == 1 and health["sender_errors"] == 1
    assert [r.in_reply_to for r in fake.sent] == ["m1", "m2"]
