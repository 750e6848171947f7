"""`--role ingest|worker|all` on a shared Redis queue (SQLite here; PostgreSQL elsewhere)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.config import Config, parse_config
from bot.daemon import Daemon
from bot.errors import ConfigError
from storage.models import Interaction, OutboxMessage
from tests.scaleout_support import REDIS_URL, redis_prefix  # noqa: F401 - fixture
from tests.support.harness import FakeConnector, count_rows, make_config, message
from tests.support.stub_scorer import StubScorer


def redis_config(tmp_path: Path, prefix: str, **queue: Any) -> Config:
    settings = {"backend": "redis", "redis_url": REDIS_URL, "stream": f"{prefix}:inbound"}
    return make_config(tmp_path, queue={**settings, **queue})


async def stream_length(config: Config) -> int:
    client = Redis.from_url(REDIS_URL)
    try:
        return int(await client.xlen(config.queue.stream))
    finally:
        await client.aclose()


def test_the_scaling_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    raw = tomllib.loads((root / "docs" / "scaling.example.toml").read_text(encoding="utf-8"))
    config = parse_config(raw, "docs/scaling.example.toml")
    assert config.queue.backend == "redis" and config.queue.maxsize == 200
    assert config.database_url.startswith("postgresql://") or "SOCIALBOT_DATABASE_URL" in os.environ


def test_a_split_role_needs_a_shared_queue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='backend = "redis"'):
        Daemon(make_config(tmp_path), connectors=[], role="worker")
    with pytest.raises(ConfigError, match="use one of all, ingest, worker"):
        Daemon(make_config(tmp_path), connectors=[], role="everything")  # type: ignore[arg-type]


async def test_ingest_stores_and_queues_and_decides_nothing(
    tmp_path: Path,
    redis_prefix: str,  # noqa: F811
) -> None:
    config = redis_config(tmp_path, redis_prefix)
    fake = FakeConnector()
    fake.push(*(message(f"parcel {n} is broken", id=f"i{n}", author=f"a{n}") for n in range(12)))
    daemon = Daemon(config, connectors=[fake], scorer=StubScorer(), role="ingest")
    fake.bind(daemon.storage.inbound)

    stats = await daemon.run(once=True, install_signals=False)

    assert stats.stored == 12 and stats.processed == 0
    assert fake.committed_ids == [f"i{n}" for n in range(12)]  # marked read once stored
    assert await count_rows(config, Interaction, status="pending") == 12
    assert await stream_length(config) == 12
    assert fake.sent == []


async def test_worker_once_processes_the_shared_queue_then_exits(
    tmp_path: Path,
    redis_prefix: str,  # noqa: F811
) -> None:
    config = redis_config(tmp_path, redis_prefix, batch_size=5)
    platform = FakeConnector()
    platform.push(
        *(message(f"my order {n} never came", id=f"w{n}", author=f"w{n}") for n in range(9))
    )
    ingest = Daemon(config, connectors=[platform], scorer=StubScorer(), role="ingest")
    platform.bind(ingest.storage.inbound)
    await ingest.run(once=True, install_signals=False)

    sender_side = FakeConnector()  # the worker's own connection to the platform
    worker = Daemon(config, connectors=[sender_side], scorer=StubScorer(), role="worker")
    stats = await worker.run(once=True, install_signals=False)

    assert stats.processed == 9 and stats.read == 0  # a worker never listens
    assert sorted(r.in_reply_to or "" for r in sender_side.sent) == sorted(
        f"w{n}" for n in range(9)
    )
    assert await count_rows(config, OutboxMessage, status="sent") == 9
    assert await stream_length(config) == 0


async def test_all_in_one_process_on_redis_is_the_pipeline(
    tmp_path: Path,
    redis_prefix: str,  # noqa: F811
) -> None:
    config = redis_config(tmp_path, redis_prefix)
    fake = FakeConnector()
    fake.push(
        message("My blender arrived broken", id="a1", thread="conv"),
        message("Still broken, hello?", id="a2", thread="conv"),
        message("I love the new drill", id="p1", author="bob"),
    )
    daemon = Daemon(config, connectors=[fake], scorer=StubScorer())
    fake.bind(daemon.storage.inbound)

    stats = await daemon.run(once=True, install_signals=False)

    assert stats.tickets_opened == 1 and stats.tickets_joined == 1
    assert sorted(r.in_reply_to or "" for r in fake.sent) == ["a1", "p1"]
    assert await stream_length(config) == 0
