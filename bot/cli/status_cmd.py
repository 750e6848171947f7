"""`socialbot status`: the running daemon's health, or what the database says without it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from bot.cli.common import ConfigOption, console, load, run_async, with_database
from bot.config import Config
from storage.db import Database
from storage.models import Interaction, OutboxMessage, Ticket


def fetch_health(config: Config, timeout: float = 3.0) -> dict[str, Any] | None:
    settings = config.health
    if not settings.enabled or settings.port == 0:
        return None
    url = f"http://{settings.host}:{settings.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:  # 503 still carries the JSON body
        data = json.loads(exc.read())
        return data
    except (OSError, ValueError):
        return None


async def database_status(db: Database) -> dict[str, int]:
    async with db.session() as session:

        def count(model: Any, *where: Any) -> Any:
            return session.scalar(select(func.count()).select_from(model).where(*where))

        return {
            "unprocessed messages": int(
                await count(Interaction, Interaction.status == "pending") or 0
            ),
            "replies waiting": int(
                await count(OutboxMessage, OutboxMessage.status.in_(("pending", "sending"))) or 0
            ),
            "replies failed": int(
                await count(OutboxMessage, OutboxMessage.status == "failed") or 0
            ),
            "open tickets": int(
                await count(Ticket, Ticket.status.in_(("open", "waiting_customer"))) or 0
            ),
            "SLA breaches": int(await count(Ticket, Ticket.sla_breached_at.is_not(None)) or 0),
        }


def register(app: typer.Typer) -> None:
    @app.command()
    def status(config: ConfigOption = None) -> None:
        """Connector health from the running daemon, and the backlog from the database."""
        cfg = load(config)
        live = fetch_health(cfg)
        if live is None:
            console.print(
                "daemon health endpoint: not reachable "
                "(enable [health] in the config to see live connector health)"
            )
        else:
            table = Table(title=f"connectors — daemon {live['status']}")
            for column in (
                "connector",
                "state",
                "last success",
                "last error",
                "in",
                "out",
                "errors",
                "rate-limit waits",
                "token",
            ):
                table.add_column(column, overflow="fold")
            for c in live["connectors"]:
                token = {True: "valid", False: "refused", None: "-"}[c["token_valid"]]
                table.add_row(
                    c["name"],
                    c["state"],
                    c["last_success"] or "-",
                    escape(c["last_error"] or "-"),
                    str(c["messages_in"]),
                    str(c["messages_out"]),
                    str(c["errors"]),
                    str(c["rate_limit_waits"]),
                    token,
                )
            console.print(table)
            console.print(f"queue depth {live['queue_depth']}")
        counts = run_async(with_database(cfg, database_status))
        table = Table(title="backlog (database)", show_header=False)
        for name, value in counts.items():
            table.add_row(name, str(value))
        console.print(table)
