"""PostgreSQL schemas and Redis key prefixes of their own, for the scale-out tests.

Each test gets a fresh schema (``search_path`` in the URL: Alembic and the daemon both
create their tables there) and drops only that schema; Redis keys live under a prefix
that only the test uses and are deleted afterwards. Both skip (or fail under CI=true)
when the server is not listening.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import create_engine, text

from bot.bench.resources import with_search_path
from bot.config import Config
from storage.db import sync_url
from tests.support.harness import make_config
from tests.support.services import need_tcp

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def pg_url() -> Iterator[str]:
    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    schema = f"socialbot_test_{secrets.token_hex(4)}"
    engine = create_engine(sync_url(PG_URL))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    need_tcp("127.0.0.1", 6379, "Redis")
    prefix = f"socialbot-test:{secrets.token_hex(4)}"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def config_on(database_url: str, tmp_path: Path, **sections: Any) -> Config:
    """The test harness's config, on another database."""
    config = make_config(tmp_path, **sections)
    bot = config.bot.model_copy(update={"database_url": database_url})
    return config.model_copy(update={"bot": bot})
