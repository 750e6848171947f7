"""Agents' commands for people without Discord: the desk's actions, plus list, show and log.

Every action goes through the same :class:`bot.desk.desk.Desk` as the Discord commands, so
it is checked by the same gate and written to the same event log (actor ``cli:<name>``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.common import (
    ConfigOption,
    actor_name,
    console,
    load,
    parse_since,
    run_async,
    with_database,
)
from bot.desk.desk import Desk
from bot.desk.followups import TickReport
from bot.desk.guards import Actor
from bot.desk.handlers import Args, Assignee, Reply
from bot.errors import PermissionDenied, UserInputError
from bot.scheduler import Scheduler, SystemClock, policy_from
from responders.calendar import BusinessCalendar
from responders.templates import Templates
from storage.db import Database
from storage.report_log import MAX_PAGE_SIZE, LogEntry, LogQuery, event_details, query_log_page
from storage.report_sql import SENTIMENTS
from storage.tickets import RESOLUTIONS, TicketDetail, TicketRepo, TicketSummary

AgentOption = Annotated[str | None, typer.Option("--as", help="Agent name for the audit log.")]


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _cli_actor(agent: str | None) -> Actor:
    actor_id = actor_name(agent)
    return Actor(id=actor_id, name=actor_id.removeprefix("cli:"), source="cli")


def _assignee(value: str) -> Assignee:
    """'<@123>' or 'discord:123' is a Discord member (pinged by reminders); else a name."""
    text = value.strip()
    digits = text.removeprefix("<@").removesuffix(">").removeprefix("discord:").lstrip("!")
    if digits.isdigit():
        return Assignee(f"discord:{digits}", text)
    if not text:
        raise UserInputError("say who gets the ticket")
    return Assignee(text, text)


def desk_action(config: ConfigOption, name: str, args: Args, agent: str | None) -> Reply:
    """Run one desk command as the CLI user; refusals exit with the gate's message."""
    cfg = load(config)

    async def act(db: Database) -> Reply:
        desk = Desk.build(
            db, cfg.desk, calendar=BusinessCalendar(cfg.calendar), templates=Templates(cfg.replies)
        )
        return await desk.execute(_cli_actor(agent), name, args)

    reply = run_async(with_database(cfg, act))
    if reply.refused:
        raise PermissionDenied(reply.text)
    console.print(escape(reply.text.replace("**", "")))
    return reply


def _tickets_table(rows: list[TicketSummary]) -> Table:
    table = Table(title=f"tickets ({len(rows)})")
    for column in ("#", "status", "prio", "label", "channel", "customer", "due (UTC)", "text"):
        table.add_column(column, overflow="fold")
    for t in rows:
        table.add_row(
            str(t.id),
            t.status,
            t.priority,
            t.label,
            t.channel,
            escape(t.customer),
            _when(t.first_response_due_at),
            escape(t.excerpt),
        )
    return table


def _show(detail: TicketDetail) -> None:
    t = detail.summary
    console.print(
        f"[bold]Ticket #{t.id}[/] {t.status} · {t.priority} · {t.label}"
        f"{' · ' + t.topic if t.topic else ''} · {t.channel} · {escape(t.customer)}"
    )
    console.print(
        f"opened {_when(t.opened_at)} · first response due {_when(t.first_response_due_at)}"
        f" · answered {_when(t.first_response_at)} · assignee {t.assignee or '-'}"
    )
    messages = Table(title="messages")
    for column in ("when (UTC)", "dir", "text", "polarity"):
        messages.add_column(column, overflow="fold")
    for m in detail.messages:
        polarity = f"{m.polarity:+.2f}" if m.polarity is not None else ""
        messages.add_row(_when(m.created_at), m.direction, escape(m.text), polarity)
    console.print(messages)
    events = Table(title="history")
    for column in ("when (UTC)", "who", "what"):
        events.add_column(column)
    events.add_column("details", overflow="fold")
    for e in detail.events:
        events.add_row(_when(e.at), escape(e.actor), e.type, escape(event_details(e.data)))
    console.print(events)


def _log_table(rows: list[LogEntry]) -> Table:
    table = Table(title=f"interaction log ({len(rows)} newest)")
    for column in (
        "id",
        "when (UTC)",
        "dir",
        "channel",
        "author",
        "label",
        "pol",
        "ticket",
        "text",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        polarity = f"{r.polarity:+.2f}" if r.polarity is not None else ""
        table.add_row(
            str(r.id),
            _when(r.created_at),
            r.direction,
            r.channel,
            escape(r.author),
            r.label or "",
            polarity,
            str(r.ticket_id or ""),
            escape(r.text[:120]),
        )
    return table


LABEL_HELP = "complaint, question, praise, other, ignored; not_complaint (an agent's correction)"


def register(app: typer.Typer) -> None:
    tickets_app = typer.Typer(
        help="Work tickets: list, show, claim, assign, note, canned, snooze, reopen, label.",
        no_args_is_help=True,
    )
    app.add_typer(tickets_app, name="tickets")

    @tickets_app.command("list")
    def tickets_list(
        config: ConfigOption = None,
        status: Annotated[
            str, typer.Option(help="open, waiting_customer, resolved, closed, all")
        ] = "open",
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    ) -> None:
        """Tickets ordered by first-response due time."""
        known = ("open", "waiting_customer", "resolved", "closed")
        if status != "all" and status not in known:
            raise UserInputError(f"--status {status!r}: use one of {', '.join(known)} or all")
        statuses = (
            None
            if status == "all"
            else (("open", "waiting_customer") if status == "open" else (status,))
        )
        rows = run_async(
            with_database(load(config), lambda db: TicketRepo(db).list(statuses, limit))
        )
        console.print(_tickets_table(rows))

    @tickets_app.command("show")
    def tickets_show(number: int, config: ConfigOption = None) -> None:
        """One ticket: its messages and its full history."""
        _show(run_async(with_database(load(config), lambda db: TicketRepo(db).show(number))))

    @app.command()
    def reply(
        number: int, text: str, config: ConfigOption = None, agent: AgentOption = None
    ) -> None:
        """Answer a ticket through its own channel and thread (sent by the running daemon)."""
        desk_action(config, "reply", Args(ticket=number, text=text), agent)

    @app.command()
    def resolve(
        number: int,
        resolution: Annotated[str, typer.Argument(help=" | ".join(RESOLUTIONS))] = "other",
        config: ConfigOption = None,
        agent: AgentOption = None,
    ) -> None:
        """Mark a ticket resolved (the customer then gets one satisfaction question)."""
        desk_action(config, "resolve", Args(ticket=number, resolution=resolution), agent)

    register_actions(tickets_app)
    register_sweep(tickets_app)

    @app.command("log")
    def log_cmd(
        config: ConfigOption = None,
        channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
        sentiment: Annotated[str | None, typer.Option(help="negative | neutral | positive")] = None,
        label: Annotated[str | None, typer.Option(help=LABEL_HELP)] = None,
        since: Annotated[str | None, typer.Option(help="7d, 12h or a date")] = None,
        limit: Annotated[int, typer.Option(min=1, max=MAX_PAGE_SIZE)] = 50,
    ) -> None:
        """The interaction log, newest first."""
        if sentiment is not None and sentiment not in SENTIMENTS:
            raise UserInputError(f"--sentiment {sentiment!r}: use one of {', '.join(SENTIMENTS)}")
        query = LogQuery(
            channel=channel,
            sentiment=sentiment,
            label=label,
            start=parse_since(since),
            page_size=limit,
        )
        page = run_async(with_database(load(config), lambda db: query_log_page(db, query)))
        console.print(_log_table(page.entries))


def register_actions(tickets_app: typer.Typer) -> None:
    """``socialbot tickets claim|assign|note|canned|snooze|reopen|label|reply|resolve``."""

    @tickets_app.command("claim")
    def claim(number: int, config: ConfigOption = None, agent: AgentOption = None) -> None:
        """Take a ticket (you become its assignee)."""
        desk_action(config, "claim", Args(ticket=number), agent)

    @tickets_app.command("assign")
    def assign(
        number: int,
        to: Annotated[str, typer.Argument(help="A name, or a Discord member as <@id>")],
        config: ConfigOption = None,
        agent: AgentOption = None,
    ) -> None:
        """Give a ticket to a team member."""
        desk_action(config, "assign", Args(ticket=number, agent=_assignee(to)), agent)

    @tickets_app.command("note")
    def note(
        number: int, text: str, config: ConfigOption = None, agent: AgentOption = None
    ) -> None:
        """Add an internal note (never sent to the customer)."""
        desk_action(config, "note", Args(ticket=number, text=text), agent)

    @tickets_app.command("canned")
    def canned(
        number: int, name: str, config: ConfigOption = None, agent: AgentOption = None
    ) -> None:
        """Send a saved reply (configured under desk.canned)."""
        desk_action(config, "canned", Args(ticket=number, name=name), agent)

    @tickets_app.command("snooze")
    def snooze(
        number: int,
        duration: Annotated[str, typer.Argument(help="2h, 30m, 1d, 1h30m")],
        config: ConfigOption = None,
        agent: AgentOption = None,
    ) -> None:
        """Hide a ticket from the queue and reminders for a while."""
        desk_action(config, "snooze", Args(ticket=number, duration=duration), agent)

    @tickets_app.command("reopen")
    def reopen(number: int, config: ConfigOption = None, agent: AgentOption = None) -> None:
        """Reopen a resolved or closed ticket."""
        desk_action(config, "reopen", Args(ticket=number), agent)

    @tickets_app.command("label")
    def label(
        number: int,
        value: Annotated[str, typer.Argument(help="complaint | not")],
        config: ConfigOption = None,
        agent: AgentOption = None,
    ) -> None:
        """Correct the complaint label marketing's reports use."""
        desk_action(config, "label", Args(ticket=number, label=value), agent)

    @tickets_app.command("reply")
    def reply(
        number: int, text: str, config: ConfigOption = None, agent: AgentOption = None
    ) -> None:
        """Same as `socialbot reply`."""
        desk_action(config, "reply", Args(ticket=number, text=text), agent)

    @tickets_app.command("resolve")
    def resolve(
        number: int,
        resolution: Annotated[str, typer.Argument(help=" | ".join(RESOLUTIONS))] = "other",
        config: ConfigOption = None,
        agent: AgentOption = None,
    ) -> None:
        """Same as `socialbot resolve`."""
        desk_action(config, "resolve", Args(ticket=number, resolution=resolution), agent)


def register_sweep(tickets_app: typer.Typer) -> None:
    """``socialbot tickets sweep``: the scheduler's pass, by hand or from cron."""

    @tickets_app.command("sweep")
    def sweep(config: ConfigOption = None) -> None:
        """Run the policy clock once: SLA, reminders, nudges, auto-close, CSAT (for cron)."""
        cfg = load(config)

        async def act(db: Database) -> TickReport:
            return await Scheduler(policy_from(cfg, db), SystemClock()).tick()

        report = run_async(with_database(cfg, act))
        done = {name: getattr(report, name) for name in report.__slots__ if getattr(report, name)}
        if not done:
            console.print("policy clock: nothing due")
        for name, tickets in done.items():
            console.print(f"{name}: " + ", ".join(f"#{t}" for t in tickets))
