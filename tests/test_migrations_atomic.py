"""A migration that fails or is killed part-way leaves the database at its previous revision.

All pending migrations run in one transaction (storage/migrations/env.py), on SQLite too,
whose Python driver would otherwise commit every CREATE and ALTER on its own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, event, inspect

from storage.db import MIGRATIONS, alembic_config, current_revision, upgrade_schema
from tests.test_migrations import postgresql_schema, schema_diff

ROOT = Path(__file__).resolve().parent.parent

# Statements part-way through a migration: after 0001 has created cursors, customers and
# tickets; after the first of 0003's indexes; in 0004, after 0003 has completed.
IN_0001 = "CREATE TABLE interactions"
IN_0003 = "CREATE INDEX ix_interactions_report_complaints"
IN_0004 = "ALTER TABLE outbox ADD COLUMN lease_until"


class InjectedFault(Exception):
    pass


@contextmanager
def fail_at(prefix: str) -> Iterator[list[str]]:
    """Every engine raises on the first statement starting with ``prefix``; yields the
    statements that ran before it."""
    ran: list[str] = []

    def hook(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if text.startswith(prefix):
            raise InjectedFault(prefix)
        ran.append(text)

    event.listen(Engine, "before_cursor_execute", hook)
    try:
        yield ran
    finally:
        event.remove(Engine, "before_cursor_execute", hook)


def sqlite_schema(path: Path) -> list[tuple[str, ...]]:
    """Every table and index exactly as SQLite stores it, and the Alembic revision."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY 1, 2"
        ).fetchall()
        has_version = any(row[1] == "alembic_version" for row in rows)
        version = conn.execute("SELECT * FROM alembic_version").fetchall() if has_version else []
    return [tuple(row) for row in rows] + [("revision", *(v[0] for v in version))]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def reference(tmp_path: Path, revision: str | None) -> list[tuple[str, ...]]:
    """The schema a clean upgrade to ``revision`` builds (None: an empty database)."""
    path = tmp_path / f"reference_{revision}.sqlite3"
    if revision is None:
        sqlite3.connect(path).close()
    else:
        upgrade_schema(sqlite_url(path), revision)
    return sqlite_schema(path)


def test_first_migration_failing_part_way_leaves_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with fail_at(IN_0001) as ran, pytest.raises(InjectedFault):
        upgrade_schema(sqlite_url(path))
    assert any(s.startswith("CREATE TABLE tickets") for s in ran)  # it did get part-way

    assert sqlite_schema(path) == reference(tmp_path, None) == [("revision",)]
    assert current_revision(sqlite_url(path)) is None
    upgrade_schema(sqlite_url(path))
    assert schema_diff(sqlite_url(path)) == []


@pytest.mark.parametrize("fault", [IN_0003, IN_0004], ids=["in_0003", "in_0004_after_0003"])
def test_upgrade_failing_part_way_leaves_the_previous_revision_and_its_data(
    tmp_path: Path, fault: str
) -> None:
    path = tmp_path / "bot.sqlite3"
    upgrade_schema(sqlite_url(path), "0002")
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO customers (channel, external_id, is_bot, csat_opted_out, created_at)"
            " VALUES ('x', 'u1', 0, 0, '2026-01-01')"
        )
    with fail_at(fault), pytest.raises(InjectedFault):
        upgrade_schema(sqlite_url(path))

    assert sqlite_schema(path) == reference(tmp_path, "0002")
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT external_id FROM customers").fetchall() == [("u1",)]
    upgrade_schema(sqlite_url(path))
    assert current_revision(sqlite_url(path)) == "0004"
    assert schema_diff(sqlite_url(path)) == []


def test_postgresql_runs_all_pending_migrations_in_one_transaction() -> None:
    with postgresql_schema("migatomic") as url:
        with fail_at(IN_0004), pytest.raises(InjectedFault):
            upgrade_schema(url)
        engine = create_engine(url)
        try:
            assert inspect(engine).get_table_names() == []  # 0001-0003 rolled back too
        finally:
            engine.dispose()
        upgrade_schema(url)
        assert schema_diff(url) == []


# A later migration whose ALTER needs batch mode's table copy on SQLite (0001-0004 only add
# columns and indexes, which SQLite does in place): create a copy, fill it, drop the original,
# rename — all inside the one transaction.
RECREATING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "t_recreate"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers", recreate="always") as batch_op:
        batch_op.alter_column("handle", type_=sa.String(length=300))
    op.create_index("ix_after_recreate", "customers", ["handle"])


def downgrade() -> None:
    pass
"""


def upgrade_with_test_revision(url: str, versions: Path) -> None:
    versions.mkdir(exist_ok=True)
    (versions / "t_recreate.py").write_text(RECREATING_REVISION)
    cfg = alembic_config(url)
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option(
        "version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(versions)])
    )
    command.upgrade(cfg, "head")


def test_batch_table_copy_runs_inside_the_transaction_and_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    upgrade_schema(sqlite_url(path))
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO customers (channel, external_id, handle, is_bot, csat_opted_out,"
            " created_at) VALUES ('x', 'u1', '@u1', 0, 0, '2026-01-01')"
        )
    before = sqlite_schema(path)

    with fail_at("CREATE INDEX ix_after_recreate") as ran, pytest.raises(InjectedFault):
        upgrade_with_test_revision(sqlite_url(path), tmp_path / "versions")
    assert any("_alembic_tmp_customers" in s for s in ran)  # the table was copied
    assert sqlite_schema(path) == before

    with fail_at("no statement starts like this") as ran:
        upgrade_with_test_revision(sqlite_url(path), tmp_path / "versions")
    assert any(s.startswith("ALTER TABLE _alembic_tmp_customers RENAME") for s in ran)
    assert current_revision(sqlite_url(path)) == "t_recreate"
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT handle FROM customers").fetchall() == [("@u1",)]
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'customers'").fetchone()
    assert "handle VARCHAR(300)" in sql


# The child pauses on one statement, says so, and waits there to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import Engine, event
    from storage.db import upgrade_schema

    url, pause_at = sys.argv[1], sys.argv[2]

    def pause(_conn, _cursor, statement, *_args):
        if " ".join(statement.split()).startswith(pause_at):
            print("paused", flush=True)
            time.sleep(600)

    event.listen(Engine, "before_cursor_execute", pause)
    upgrade_schema(url)
    """
)


def kill_during_upgrade(url: str, pause_at: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, url, pause_at],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == "paused\n", child.stderr.read() if child.stderr else ""
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("start", "pause_at"),
    [(None, IN_0001), ("0002", IN_0004)],
    ids=["first_migration", "from_0002_in_wal_mode"],
)
def test_upgrade_killed_part_way_leaves_the_previous_revision_and_the_next_one_succeeds(
    tmp_path: Path, start: str | None, pause_at: str
) -> None:
    path = tmp_path / "bot.sqlite3"
    url = sqlite_url(path)
    if start is not None:
        upgrade_schema(url, start)
        with closing(sqlite3.connect(path)) as conn:  # as the daemon leaves it
            conn.execute("PRAGMA journal_mode=WAL")

    kill_during_upgrade(url, pause_at)

    assert sqlite_schema(path) == reference(tmp_path, start)
    upgrade_schema(url)
    assert current_revision(url) == "0004"
    assert schema_diff(url) == []
