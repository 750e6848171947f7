"""Engine, sessions and schema migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_never
from tenacity import wait_exponential_jitter as _jittered

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Errors that pass when the database comes back: a lock held past busy_timeout (SQLite), a full
# disk, a lost connection, an exhausted pool. Callers retry them rather than drop a message.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (OperationalError, PoolTimeout, OSError)
RETRY_INITIAL_SECONDS = 0.2
RETRY_MAX_SECONDS = 30.0
BUSY_SECONDS = 10.0  # as PRAGMA busy_timeout below


def retrying(what: str, on_retry: Callable[[], None] | None = None) -> AsyncRetrying:
    """Retry a database step until the database answers (jittered backoff, capped).

    For work that must not be dropped or left half-done while the daemon runs on (storing a
    message, recording a decision, marking a reply sent). Other errors are raised at once.
    """

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if on_retry is not None:
            on_retry()
        # The driver's own message only ("database is locked"): SQLAlchemy's text would
        # carry the statement's parameters, i.e. customer text.
        reason = getattr(exc, "orig", None) or type(exc).__name__
        log.warning(
            "database unavailable while %s (%s); retrying in %.1fs",
            what,
            reason,
            state.upcoming_sleep,
        )

    return AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_ERRORS),
        wait=_jittered(multiplier=RETRY_INITIAL_SECONDS, max=RETRY_MAX_SECONDS, jitter=0.5),
        stop=stop_never,
        before_sleep=before_sleep,
        reraise=True,
    )


def async_url(url: str) -> URL:
    """The async driver for a configured URL: sqlite -> aiosqlite, postgresql -> psycopg."""
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sync_url(url: str) -> URL:
    """The blocking driver for the same database, for Alembic."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """Owns the engine; hands out sessions. One per process, passed by constructor."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = async_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(parsed, echo=echo)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._writer: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._write_turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """SQLite: one write transaction at a time per process, handed over at once.

        SQLite has one write lock; tasks of this process that found it taken would sleep in
        its busy handler (1, 2, 5, 10... ms) and retry. Queueing them here instead cut the
        pipeline's wall time several-fold. Re-entrant per task; like busy_timeout, a wait
        longer than BUSY_SECONDS fails as "database is locked" (callers retry it).
        """
        if not self.is_sqlite:
            yield
            return
        task = asyncio.current_task()
        if task is not None and task is self._writer:
            yield  # a nested transaction in the task that holds the turn
            return
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Lock())
        lock = self._gate[1]
        try:
            async with asyncio.timeout(BUSY_SECONDS):  # wait_for can swallow a cancel (3.11)
                await lock.acquire()
        except TimeoutError:
            raise OperationalError(
                "BEGIN", {}, sqlite3.OperationalError("database is locked")
            ) from None
        self._writer = task
        try:
            yield
        finally:
            self._writer = None
            lock.release()

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        await asyncio.to_thread(upgrade_schema, self.url)

    async def close(self) -> None:
        await self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["sqlalchemy_url"] = sync_url(url)
    return cfg


def upgrade_schema(url: str, revision: str = "head") -> None:
    log.info("database schema: upgrading to %s", revision)
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
