"""Set-based statements for the hot path: one round trip per batch, not per message.

SQLite (3.35+) and PostgreSQL both speak ``INSERT ... ON CONFLICT`` and ``RETURNING``; the
only difference is which SQLAlchemy dialect builds the statement. Core statements (not ORM
units of work) because at tens of thousands of rows a second the ORM's per-object
bookkeeping costs more than the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import Base

# SQLite allows 32766 variables per statement; stay far below for IN (...) lists.
CHUNK = 500


def table_of(model: type[Base]) -> Table:
    """The Core table behind a mapped class (typed: ``__table__`` is only a FromClause)."""
    return cast(Table, model.__table__)


def insert_for(db: Database, table: Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return insert_for_dialect(db.is_sqlite, table)


def insert_for_dialect(is_sqlite: bool, table: Table) -> Any:
    return sqlite.insert(table) if is_sqlite else postgresql.insert(table)


def chunks(values: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def lock_key(*parts: object) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (same in every process)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def advisory_locks(session: AsyncSession, db: Database, keys: Iterable[int]) -> None:
    """PostgreSQL: serialise transactions touching the same keys until commit.

    Taken in ascending order so two workers can never wait on each other in a cycle. On
    SQLite the whole write transaction already holds the database's single write lock.
    """
    if db.is_sqlite:
        return
    ordered = sorted(set(keys))
    if ordered:
        await session.execute(
            text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) k"),
            {"keys": ordered},
        )
