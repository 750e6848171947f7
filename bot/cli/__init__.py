"""The `socialbot` command. Each module registers its commands; errors become one line."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from bot.cli.bench_cmd import register as register_bench
from bot.cli.common import errors
from bot.cli.privacy_cmd import register as register_privacy
from bot.cli.report_cmd import register as register_report
from bot.cli.run_cmd import register as register_run
from bot.cli.status_cmd import register as register_status
from bot.cli.tickets_cmd import register as register_tickets
from bot.cli.triage_cmd import register as register_triage
from bot.errors import BotError

app = typer.Typer(
    name="socialbot",
    help="Customer-care daemon: watches social channels and answers customers on time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# One explicit list: each entry adds its commands to the app.
COMMANDS = (
    register_run,
    register_tickets,
    register_status,
    register_privacy,
    register_report,
    register_triage,
    register_bench,
)
for register in COMMANDS:
    register(app)


def main() -> None:
    try:
        app(standalone_mode=False)
    except BotError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # usage errors: an unknown option, a value out of range
        usage = _usage_error(exc)
        if usage is None:
            raise
        usage.show()
        sys.exit(usage.exit_code)


def _usage_error(exc: Exception) -> Any:
    """The click exception behind a usage error, else None.

    typer >= 0.22 raises its own copy of click's exceptions (``typer._click``), which are
    not ``click.ClickException``: both are recognised, by their public base classes.
    """
    import click

    vendored = getattr(typer, "TyperException", click.ClickException)  # older typer: none
    if isinstance(exc, click.ClickException | vendored) and hasattr(exc, "show"):
        return exc
    return None
