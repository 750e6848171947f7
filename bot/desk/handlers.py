"""What each desk command does, shared by Discord (slash commands, buttons) and the CLI.

A handler gets the desk's dependencies, the actor and the parsed arguments, calls the
ticket repository (one transaction, one Event each) and returns what to tell the agent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.desk.guards import Actor
from bot.desk.settings import DeskSettings
from bot.errors import UserInputError, shown
from responders.canned import render, values_for
from storage.tickets import TicketRepo, TicketSummary

MAX_SNOOZE = timedelta(days=30)
_DURATION = re.compile(r"(\d+)\s*([wdhm])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
LABEL_WORDS = {"complaint": "complaint", "not": "not_complaint", "not_complaint": "not_complaint"}


@dataclass(frozen=True, slots=True)
class Assignee:
    id: str  # "discord:<user id>" or a CLI name
    name: str


@dataclass(frozen=True, slots=True)
class Args:
    """Every argument a command can take; each command reads the ones it declares."""

    ticket: int | None = None
    text: str | None = None
    agent: Assignee | None = None
    name: str | None = None
    duration: str | None = None
    resolution: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What the agent is told; ``ticket_id`` marks the card to refresh."""

    text: str
    ticket_id: int | None = None
    private: bool = False
    refused: bool = False


@dataclass(frozen=True, slots=True)
class DeskContext:
    tickets: TicketRepo
    settings: DeskSettings
    company: str
    limit_for: Callable[[str], int]  # a channel's reply length limit
    now: Callable[[], datetime]
    queue_size: int = 15


def mention(assignee: str | None) -> str:
    """How an assignee appears in Discord text (a mention renders as the member's name)."""
    if assignee is None:
        return "nobody"
    if assignee.startswith("discord:") and assignee[8:].isdigit():
        return f"<@{assignee[8:]}>"
    return assignee.removeprefix("cli:")


def _ticket(args: Args) -> int:
    if args.ticket is None or args.ticket < 1:
        raise UserInputError("give a ticket number, e.g. 42")
    return args.ticket


def _text(args: Args, what: str) -> str:
    if not args.text or not args.text.strip():
        raise UserInputError(f"the {what} text is empty")
    return args.text


def parse_duration(value: str | None) -> timedelta:
    """'2h', '30m', '1d', '1h30m', '1w' -> timedelta (at most 30 days)."""
    text = (value or "").strip().lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise UserInputError(f"{shown(value)} is not a duration like 2h, 30m, 1d or 1h30m")
    total = sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in parts), timedelta())
    if total <= timedelta(0) or total > MAX_SNOOZE:
        raise UserInputError("snooze between 1 minute and 30 days")
    return total


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "no SLA"
    stamp = value.astimezone(UTC).strftime("%a %d %b %H:%M UTC")
    return f"due {stamp}" + (" (overdue)" if value <= now else "")


def _queue_line(t: TicketSummary, now: datetime) -> str:
    flags = " ⏸" if t.status == "waiting_customer" else ""
    flags += " 🚨" if t.sla_breached_at else ""
    return (
        f"**#{t.id}** {t.label} · {t.priority} · {t.channel} · {t.customer}{flags} · "
        f"{_when(t.first_response_due_at, now)} · {mention(t.assignee)}"
    )


async def queue(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    rows = await ctx.tickets.list(
        ("open", "waiting_customer"), ctx.queue_size + 1, hide_snoozed=True
    )
    if not rows:
        return Reply("The queue is empty: no open tickets.", private=True)
    now = ctx.now()
    lines = [_queue_line(t, now) for t in rows[: ctx.queue_size]]
    more = "\n…and more: `socialbot tickets list`" if len(rows) > ctx.queue_size else ""
    return Reply("Open tickets by due time:\n" + "\n".join(lines) + more, private=True)


async def claim(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    previous = await ctx.tickets.claim(number, actor.id)
    taken = f" (was {mention(previous)})" if previous and previous != actor.id else ""
    return Reply(f"Ticket #{number} claimed by {mention(actor.id)}{taken}.", number)


async def assign(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    if args.agent is None:
        raise UserInputError("say who gets the ticket")
    await ctx.tickets.assign(number, args.agent.id, actor.id)
    return Reply(f"Ticket #{number} assigned to {mention(args.agent.id)}.", number)


async def reply(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    outbox_id = await ctx.tickets.reply(number, _text(args, "reply"), actor.id)
    return Reply(
        f"Reply to ticket #{number} queued (outbox {outbox_id}); it goes out in the "
        "customer's own channel and thread.",
        number,
    )


async def note(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    await ctx.tickets.note(number, _text(args, "note"), actor.id)
    return Reply(f"Note added to ticket #{number} (internal, never sent).", number)


async def canned(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    saved = ctx.settings.canned
    template = saved.get((args.name or "").strip())
    if template is None:
        known = ", ".join(sorted(saved)) or "none configured under [desk.canned]"
        raise UserInputError(f"no saved reply {shown(args.name)}; known: {known}")
    who = await ctx.tickets.recipient(number)
    values = values_for(who, ticket=number, company=ctx.company, agent=actor.name)
    text = render(template, values, ctx.limit_for(who.channel))
    outbox_id = await ctx.tickets.reply(number, text, actor.id, canned=args.name)
    return Reply(
        f"Saved reply {args.name!r} queued on ticket #{number} (outbox {outbox_id}).", number
    )


async def snooze(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    until = ctx.now() + parse_duration(args.duration)
    await ctx.tickets.snooze(number, until, actor.id)
    stamp = until.astimezone(UTC).strftime("%a %d %b %H:%M UTC")
    return Reply(f"Ticket #{number} snoozed until {stamp} (the SLA clock keeps running).", number)


async def resolve(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    resolution = args.resolution or "other"
    await ctx.tickets.resolve(number, resolution, actor.id)
    return Reply(f"Ticket #{number} resolved ({resolution}).", number)


async def reopen(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    await ctx.tickets.reopen(number, actor.id)
    return Reply(f"Ticket #{number} reopened.", number)


async def label(ctx: DeskContext, actor: Actor, args: Args) -> Reply:
    number = _ticket(args)
    chosen = LABEL_WORDS.get((args.label or "").strip().lower())
    if chosen is None:
        raise UserInputError("label: use complaint or not")
    before = await ctx.tickets.label(number, chosen, actor.id)
    return Reply(f"Ticket #{number} labelled {chosen} (was {before}).", number)
