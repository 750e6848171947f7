"""What every CLI command shares: config loading, the database, one-line errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from bot.config import Config, load_config
from bot.errors import UserInputError
from storage.db import Database

T = TypeVar("T")

console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML config file (default: $SOCIALBOT_CONFIG, ./socialbot.toml)."
    ),
]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def with_database(config: Config, action: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database (migrated when auto_migrate is on), run, close."""
    db = Database(config.database_url)
    try:
        if config.bot.auto_migrate:
            await db.upgrade()
        return await action(db)
    finally:
        await db.close()


def load(config_path: Path | None) -> Config:
    return load_config(config_path)


def actor_name(agent: str | None) -> str:
    import getpass

    return f"cli:{agent or getpass.getuser()}"


def parse_since(value: str | None) -> datetime | None:
    """'7d', '12h', '30m' or an ISO date/time (UTC when no zone is given)."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    text = value.strip().lower()
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(
            f"--since {value!r}: use a duration like 7d, 12h, 30m or a date like 2026-11-01"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
