"""The pipeline's end-to-end scenarios, unchanged, on PostgreSQL instead of SQLite.

tests/test_pipeline_e2e.py is the specification; here its make_config is pointed at a
fresh PostgreSQL schema per scenario, so every behaviour (one ticket and one ack per
complaint, restarts, crash reconciliation, retries, threads...) is proved on both engines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import tests.test_pipeline_e2e as e2e
from storage.db import Database, current_revision
from tests.scaleout_support import config_on, pg_url  # noqa: F401 - fixture

Scenario = Callable[[Path], Awaitable[None]]
SCENARIOS: list[Scenario] = [
    getattr(e2e, name) for name in sorted(dir(e2e)) if name.startswith("test_")
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__.removeprefix("test_"))
async def test_scenario_on_postgres(
    scenario: Scenario,
    pg_url: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def on_postgres(tmp: Path, **sections: Any) -> Any:
        return config_on(pg_url, tmp, **sections)

    monkeypatch.setattr(e2e, "make_config", on_postgres)
    await scenario(tmp_path)
    # It really ran on PostgreSQL, in this test's own schema.
    db = Database(pg_url)
    async with db.session() as session:
        schema = await session.scalar(text("SELECT current_schema()"))
        stored = await session.scalar(text("SELECT count(*) FROM interactions"))
    await db.close()
    assert schema is not None and schema.startswith("socialbot_test_")
    assert stored is not None and stored > 0


def test_migrations_run_in_the_test_schema(pg_url: str) -> None:  # noqa: F811
    from storage.db import upgrade_schema

    upgrade_schema(pg_url)
    assert current_revision(pg_url) is not None
