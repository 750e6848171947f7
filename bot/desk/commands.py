"""The desk's commands: one frozen dataclass each, in one explicit list.

Front ends (Discord slash commands and buttons, the CLI) are generated from or checked
against this list, so adding a command here is the only registration there is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.desk import handlers as h
from bot.desk.guards import Actor
from storage.tickets import RESOLUTIONS

Handler = Callable[[h.DeskContext, Actor, h.Args], Awaitable[h.Reply]]


class ParamKind(StrEnum):
    TICKET = "ticket"  # a ticket number
    TEXT = "text"  # free text (a reply, a note)
    AGENT = "agent"  # a staff member
    WORD = "word"  # a short token: a saved-reply name, a duration
    CHOICE = "choice"  # one of ``choices``


@dataclass(frozen=True, slots=True)
class Param:
    name: str  # also the field of :class:`bot.desk.handlers.Args` it fills
    kind: ParamKind
    help: str
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    params: tuple[Param, ...]
    handler: Handler
    permission: str = "agent"
    private: bool = False  # answer only the person who asked (Discord: ephemeral)


TICKET = Param("ticket", ParamKind.TICKET, "Ticket number")

COMMANDS: tuple[Command, ...] = (
    Command("queue", "Open tickets by first-response due time", (), h.queue, private=True),
    Command("claim", "Take a ticket", (TICKET,), h.claim),
    Command(
        "assign",
        "Give a ticket to a team member",
        (TICKET, Param("agent", ParamKind.AGENT, "Who takes it")),
        h.assign,
    ),
    Command(
        "reply",
        "Answer the customer in their own channel and thread",
        (TICKET, Param("text", ParamKind.TEXT, "What the customer reads")),
        h.reply,
    ),
    Command(
        "note",
        "Internal note on a ticket (never sent)",
        (TICKET, Param("text", ParamKind.TEXT, "The note")),
        h.note,
    ),
    Command(
        "canned",
        "Send a saved reply",
        (TICKET, Param("name", ParamKind.WORD, "Saved reply name ([desk.canned])")),
        h.canned,
    ),
    Command(
        "snooze",
        "Hide a ticket from the queue and reminders for a while",
        (TICKET, Param("duration", ParamKind.WORD, "How long: 2h, 30m, 1d")),
        h.snooze,
    ),
    Command(
        "resolve",
        "Mark a ticket resolved (the customer gets one CSAT question)",
        (
            TICKET,
            Param("resolution", ParamKind.CHOICE, "How it was solved", False, tuple(RESOLUTIONS)),
        ),
        h.resolve,
    ),
    Command("reopen", "Reopen a resolved or closed ticket", (TICKET,), h.reopen),
    Command(
        "label",
        "Correct the complaint label",
        (TICKET, Param("label", ParamKind.CHOICE, "complaint or not", True, ("complaint", "not"))),
        h.label,
    ),
)

BY_NAME = {command.name: command for command in COMMANDS}
