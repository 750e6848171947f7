"""The desk: look a command up, ask the gate, run the handler. Nothing else.

Front ends turn a platform interaction (or CLI arguments) into an :class:`Actor` and
:class:`Args`; customer messages never reach this code, so customer text cannot trigger a
command whatever it says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.desk.commands import BY_NAME, Command
from bot.desk.guards import Actor, Gate
from bot.desk.handlers import Args, DeskContext, Reply
from bot.desk.settings import DeskSettings
from bot.errors import PermissionDenied, UserInputError
from responders.calendar import BusinessCalendar
from responders.templates import Templates
from storage.db import Database
from storage.models import now_utc
from storage.tickets import TicketRepo

log = logging.getLogger(__name__)


class Desk:
    def __init__(
        self,
        context: DeskContext,
        gate: Gate,
        on_change: Callable[[int], None] = lambda ticket: None,
    ) -> None:
        self.context = context
        self.gate = gate
        self.on_change = on_change  # a ticket changed: refresh its staff card, wake the sender

    @classmethod
    def build(
        cls,
        db: Database,
        settings: DeskSettings,
        *,
        calendar: BusinessCalendar,
        templates: Templates,
        connector_limits: dict[str, int] | None = None,
        now: Callable[[], datetime] = now_utc,
        on_change: Callable[[int], None] = lambda ticket: None,
    ) -> Desk:
        limits = connector_limits or {}
        context = DeskContext(
            tickets=TicketRepo(db, calendar, now),
            settings=settings,
            company=templates.settings.company,
            limit_for=lambda channel: templates.limit_for(channel, limits.get(channel)),
            now=now,
        )
        return cls(context, Gate(settings.agents, settings.staff), on_change)

    def command(self, name: str) -> Command:
        found = BY_NAME.get(name)
        if found is None:
            raise UserInputError(f"no desk command {name!r}; known: {', '.join(BY_NAME)}")
        return found

    async def execute(self, actor: Actor, name: str, args: Args) -> Reply:
        """Run one command for ``actor``. Refusals are answered politely and logged."""
        command = self.command(name)
        try:
            self.gate.check(actor, command.permission)
        except PermissionDenied as exc:
            log.warning("desk refused command=%s actor=%s", name, actor.id)
            await self.context.tickets.refused(actor.id, name, args.ticket, "not an agent here")
            return Reply(str(exc), private=True, refused=True)
        log.info("desk command=%s actor=%s ticket=%s", name, actor.id, args.ticket)
        reply = await command.handler(self.context, actor, args)
        if reply.ticket_id is not None:
            self.on_change(reply.ticket_id)
        return reply
