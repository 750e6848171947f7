"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from storage.db import upgrade_schema
from storage.models import Base

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def schema_diff(url: str) -> list[Any]:
    """What autogenerate would change to bring the database to the models ([] = identical)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


@contextmanager
def postgresql_schema(name: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of the test database, dropped afterwards."""
    from tests.support.services import need_tcp

    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    schema = f"{name}_{os.getpid()}"
    admin = create_engine(PG_ADMIN)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def test_migrated_sqlite_schema_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade_schema(url)
    assert schema_diff(url) == []


def test_migrated_postgresql_schema_matches_the_models() -> None:
    with postgresql_schema("migcheck") as url:
        upgrade_schema(url.replace("postgresql+psycopg://", "postgresql://"))
        assert schema_diff(url) == []
