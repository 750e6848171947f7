"""What a benchmark run borrows and gives back: a database, Redis keys, memory figures.

A run never touches existing data: SQLite gets a throwaway file, PostgreSQL a schema of its
own (``search_path``), Redis a key prefix of its own; all are removed afterwards.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import sync_url


class RssSampler:
    """Peak resident memory of this process (and its children), sampled in a thread.

    Listing children walks /proc (milliseconds); it is done every ``CHILD_SCAN_SECONDS``
    only, so the sampler itself does not take a measurable share of the process it measures.
    """

    CHILD_SCAN_SECONDS = 2.0

    def __init__(self, interval: float = 0.2, children: bool = False) -> None:
        self.interval = interval
        self.children = children
        self.peak = 0
        self._me = psutil.Process()
        self._children: list[psutil.Process] = []
        self._scanned_at = -math.inf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> int:
        total = int(self._me.memory_info().rss)
        if not self.children:
            return total
        if time.monotonic() - self._scanned_at >= self.CHILD_SCAN_SECONDS:
            self._children = self._me.children(recursive=True)
            self._scanned_at = time.monotonic()
        for child in self._children:
            try:
                total += int(child.memory_info().rss)
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.sample())

    def __enter__(self) -> RssSampler:
        self.peak = self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.sample())


def with_search_path(url: str, schema: str) -> str:
    """The same PostgreSQL URL, its connections placed in ``schema``."""
    parsed = make_url(url)
    query = dict(parsed.query)
    query["options"] = f"-csearch_path={schema}"
    return parsed.set(query=query).render_as_string(hide_password=False)


@contextmanager
def bench_database(url: str | None) -> Iterator[str]:
    """A database URL for one run: a temporary SQLite file, or a fresh PostgreSQL schema."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="socialbot-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    if make_url(url).get_backend_name() != "postgresql":
        yield url  # an explicit SQLite file: the caller's to keep
        return
    schema = f"socialbot_bench_{secrets.token_hex(4)}"
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_search_path(url, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@contextmanager
def bench_stream(redis_url: str) -> Iterator[str]:
    """A stream name under a prefix of its own; every key under it is deleted afterwards."""
    prefix = f"socialbot-bench:{secrets.token_hex(4)}"
    try:
        yield f"{prefix}:inbound"
    finally:
        asyncio.run(_delete_prefix(redis_url, prefix))


async def _delete_prefix(redis_url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
