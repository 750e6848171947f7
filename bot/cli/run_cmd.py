"""`socialbot run`, `socialbot db ...` and `socialbot connectors`."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer
from rich.table import Table

from bot.cli.common import ConfigOption, console, load, run_async, with_database
from bot.config import Config
from bot.daemon import ROLES, Daemon
from bot.errors import UserInputError
from bot.logs import setup_logging
from bot.registry import describe_installed
from bot.services import build_services
from bot.stats import RunStats
from storage.db import Database, current_revision

log = logging.getLogger(__name__)


def with_demo(config: Config) -> Config:
    """Add the demo connector when the config has none (``--demo``)."""
    if any(s.get("type", n) == "demo" for n, s in config.connectors.items()):
        return config
    return config.model_copy(update={"connectors": {**config.connectors, "demo": {}}})


def print_summary(stats: RunStats) -> None:
    table = Table(title="socialbot run summary", show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    acks = stats.replies_sent.get("ack", 0)
    rows = [
        ("messages read", stats.read),
        ("new messages stored", stats.stored),
        ("duplicates skipped (already stored)", stats.duplicates),
        ("ignored (own posts, bots, spam)", stats.ignored),
        ("complaints", stats.labels.get("complaint", 0)),
        ("questions", stats.labels.get("question", 0)),
        ("praise", stats.labels.get("praise", 0)),
        ("other", stats.labels.get("other", 0)),
        ("tickets opened", stats.tickets_opened),
        ("acknowledgements sent", acks),
        ("thank-you replies sent", stats.replies_sent.get("thanks", 0)),
        ("replies failed", stats.replies_failed),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    if not stats.stored:
        console.print(
            "No new messages: each connector resumed after the last message it had stored, "
            "and nothing was sent twice."
        )


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @app.command()
    def run(
        config: ConfigOption = None,
        demo: Annotated[bool, typer.Option(help="Replay the bundled demo messages.")] = False,
        once: Annotated[
            bool, typer.Option(help="Process what is available now, then exit (cron, tests).")
        ] = False,
        role: Annotated[
            str,
            typer.Option(
                help="all: everything in this process. ingest: connectors -> storage -> queue. "
                "worker: queue -> scoring -> routing -> outbox, and the sender. ingest and "
                'worker need \\[queue] backend = "redis" (see docs/scaling.md).'
            ),
        ] = "all",
    ) -> None:
        """Run the daemon until SIGTERM/SIGINT (or, with --once, until nothing is left)."""
        cfg = load(config)
        if demo:
            cfg = with_demo(cfg)
        setup_logging(cfg.bot.log_level, cfg.bot.log_format)
        if role not in ROLES:
            raise UserInputError(f"--role {role!r}: use one of {', '.join(ROLES)}")
        daemon = Daemon(cfg, services=build_services, role=role)
        stats = asyncio.run(daemon.run(once=once))
        print_summary(stats)

    @db_app.command("upgrade")
    def db_upgrade(config: ConfigOption = None) -> None:
        """Create or upgrade the schema to the newest migration."""
        cfg = load(config)

        async def upgrade(db: Database) -> None:
            await db.upgrade()

        run_async(with_database(cfg.model_copy(update={"bot": cfg.bot}), upgrade))
        console.print(f"schema at revision {current_revision(cfg.database_url)}")

    @db_app.command("current")
    def db_current(config: ConfigOption = None) -> None:
        """Show the schema revision of the configured database."""
        cfg = load(config)
        console.print(current_revision(cfg.database_url) or "empty database (no schema yet)")

    @app.command()
    def connectors(config: ConfigOption = None) -> None:
        """List installed connectors, which are configured, and their health."""
        cfg = load(config)
        configured = {str(s.get("type") or n): n for n, s in cfg.connectors.items()}
        table = Table(title="connectors")
        for column in ("type", "module", "configured as", "enabled", "status"):
            table.add_column(column)
        for item in describe_installed():
            name = configured.get(item.name)
            section = cfg.connectors.get(name, {}) if name else {}
            enabled = "-" if name is None else ("yes" if section.get("enabled", True) else "no")
            status = f"[red]broken: {item.error}[/]" if item.error else "installed"
            table.add_row(item.name, item.target, name or "-", enabled, status)
        console.print(table)
        console.print(
            "Live health (last success, last error, rate-limit budget, token validity) is "
            "shown by the running daemon's status endpoint."
        )
