"""`socialbot forget` and `socialbot purge`: erasure on request, retention by hand."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from bot.cli.common import ConfigOption, actor_name, console, load, run_async, with_database
from bot.errors import UserInputError
from storage.db import Database
from storage.privacy import Erasure, forget, purge_text


def register(app: typer.Typer) -> None:
    @app.command("forget")
    def forget_cmd(
        customer: Annotated[
            str, typer.Argument(help="channel:handle, handle (all channels) or #id")
        ],
        config: ConfigOption = None,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
        agent: Annotated[
            str | None, typer.Option("--as", help="Who asked, for the audit log.")
        ] = None,
    ) -> None:
        """Erase a customer's text and identity everywhere; anonymous metrics stay."""
        if not yes:
            if not sys.stdin.isatty():
                raise UserInputError("forget needs --yes when not run from a terminal")
            typer.confirm(f"Erase everything {customer!r} wrote, and who they are?", abort=True)

        async def act(db: Database) -> Erasure:
            return await forget(db, customer, actor_name(agent))

        done = run_async(with_database(load(config), act))
        console.print(
            f"erased {done.customers} identity(ies): {done.interactions} message(s), "
            f"{done.replies} reply(ies) blanked; metrics keep anonymous rows"
        )

    @app.command("purge")
    def purge_cmd(
        config: ConfigOption = None,
        older_than: Annotated[
            int | None, typer.Option(help="Days; default privacy.retention_days")
        ] = None,
    ) -> None:
        """Blank message text older than N days (the daemon does this daily when configured)."""
        cfg = load(config)
        days = older_than if older_than is not None else cfg.privacy.retention_days
        if days <= 0:
            raise UserInputError("give --older-than DAYS (or set privacy.retention_days)")
        cutoff = datetime.now(UTC) - timedelta(days=days)

        async def act(db: Database) -> int:
            return await purge_text(db, cutoff)

        count = run_async(with_database(cfg, act))
        console.print(f"blanked the text of {count} interaction(s) older than {days} day(s)")
