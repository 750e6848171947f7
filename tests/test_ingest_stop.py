"""A stop never cuts a batch of incoming messages half-way through being stored.

The daemon stops by cancelling its ingest tasks. A cancel that landed inside the store's
transaction rolled it back while the connection was being returned (SQLAlchemy logged
"Exception during reset" with a traceback, seen in CI on SIGTERM) and could leave a stored
batch unqueued until the next start. Now the batch in hand is finished first — stored, marked
read, queued, and answered by the draining workers — within the drain timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.daemon import Daemon
from connectors.base import Inbound
from storage.models import Interaction
from tests.support.harness import FakeConnector, count_rows, make_config, message

GUARD = 20.0  # a hang guard, not a timing check


async def _stopping_while_storing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drain: float
) -> tuple[Daemon, FakeConnector, asyncio.Event, asyncio.Task[object]]:
    """A running daemon whose store of message "1" has begun and waits for ``release``."""
    config = make_config(tmp_path, bot={"drain_timeout_seconds": drain})
    fake = FakeConnector()
    daemon = Daemon(config, connectors=[fake])
    fake.bind(daemon.storage.inbound)
    entered, release = asyncio.Event(), asyncio.Event()
    real = daemon.storage.inbound.record_many

    async def held(items: Sequence[Inbound]) -> list[int | None]:
        entered.set()
        await release.wait()
        return await real(items)

    monkeypatch.setattr(daemon.storage.inbound, "record_many", held)
    running: asyncio.Task[object] = asyncio.create_task(daemon.run(install_signals=False))
    fake.push(message("my order never arrived, still waiting", id="1"))
    await asyncio.wait_for(entered.wait(), GUARD)
    return daemon, fake, release, running


async def test_a_stop_during_a_store_lets_the_batch_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, fake, release, running = await _stopping_while_storing(tmp_path, monkeypatch, 10)
    daemon.request_stop()
    for _ in range(20):  # the stop reaches the ingest task while its store is in progress
        await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(running, GUARD)

    assert await count_rows(daemon.config, Interaction, direction="in") == 1
    assert await count_rows(daemon.config, Interaction, direction="in", status="processed") == 1
    assert fake.committed_ids == ["1"]
    assert [reply.in_reply_to for reply in fake.sent] == ["1"]  # acknowledged before exiting
    assert "Exception during reset" not in caplog.text


async def test_a_store_that_never_ends_does_not_hold_the_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, fake, _never, running = await _stopping_while_storing(tmp_path, monkeypatch, 0.2)
    with caplog.at_level(logging.WARNING, logger="bot.ingest"):
        daemon.request_stop()
        await asyncio.wait_for(running, GUARD)

    assert await count_rows(daemon.config, Interaction) == 0  # read again at the next start
    assert fake.committed_ids == []  # the platform was not told it was read
    assert "not stored and queued within" in caplog.text
