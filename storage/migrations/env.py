"""Alembic environment: the URL comes from socialbot's config, never from alembic.ini.

All pending migrations run in one transaction, on SQLite as on PostgreSQL: a failure or a
kill part-way leaves the database exactly at the revision it had before.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, event, pool
from sqlalchemy.engine import URL

from storage.models import Base

config = context.config
url = config.attributes["sqlalchemy_url"]
target_metadata = Base.metadata


def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's legacy transaction control never BEGINs before DDL, so every CREATE and
    # ALTER would commit on its own. Told isolation_level None, it emits no BEGIN at all.
    dbapi_connection.isolation_level = None


def _begin(connection: Connection) -> None:
    # SQLAlchemy's begin emits the BEGIN instead; pysqlite still sends COMMIT and ROLLBACK.
    connection.exec_driver_sql("BEGIN")


def migration_engine(target: URL) -> Engine:
    """The engine for migrations: on SQLite with transactional DDL, per SQLAlchemy's recipe
    for the sqlite3 driver on every Python version (3.12's ``autocommit`` is not in 3.11)."""
    engine = create_engine(target, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _no_driver_transactions)
        event.listen(engine, "begin", _begin)
    return engine


def run_migrations() -> None:
    engine = migration_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                # Alembic assumes SQLite cannot roll DDL back and would commit after each
                # migration; with the engine above it can. PostgreSQL has it natively.
                transactional_ddl=True,
                transaction_per_migration=False,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations()
