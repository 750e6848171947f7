"""The desk as a daemon service: staff channel cards and notices, and chat commands.

Built from ``[desk.staff]``: the named connector hosts the staff channel (Discord today).
The service waits for that connector's gateway, installs the slash commands and buttons on
its client, then keeps the board in sync. Actions from chat wake the board (the card is
edited at once) and the sender (a reply goes out at once).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.desk.board import StaffBoard, StaffPoster
from bot.desk.desk import Desk
from bot.errors import ConfigError, ConnectorError
from responders.calendar import BusinessCalendar
from responders.templates import Templates
from storage.staff import StaffRepo

if TYPE_CHECKING:
    from bot.daemon import Daemon
    from connectors.base import Connector

log = logging.getLogger(__name__)


class DeskService:
    name = "desk"

    def __init__(self, daemon: Daemon, connector: Connector) -> None:
        config = daemon.config
        self.settings = config.desk
        self.connector = connector
        self.board: StaffBoard | None = None
        self._wake_sender = daemon.sender.wake
        self.desk = Desk.build(
            daemon.storage.db,
            config.desk,
            calendar=BusinessCalendar(config.calendar),
            templates=Templates(config.replies),
            connector_limits={c.name: c.max_length for c in daemon.connectors},
            on_change=self._changed,
        )
        self.repo = StaffRepo(daemon.storage.db)

    def _changed(self, ticket_id: int) -> None:
        self._wake_sender()
        if self.board is not None:
            self.board.wake(ticket_id)

    async def attach(self) -> StaffPoster:
        """Install the chat front end on the staff connector; returns its poster."""
        from connectors.discord import DiscordConnector

        if not isinstance(self.connector, DiscordConnector):
            raise ConfigError(
                f"desk.staff.connector = {self.connector.name!r} is not a discord connector"
            )
        from connectors.discord.desk_commands import attach_desk

        return await attach_desk(self.connector, self.desk, self.settings.staff)

    async def run(self) -> None:
        try:
            poster = await self.attach()
        except ConnectorError as exc:
            log.error("desk: staff channel unavailable (%s); cards wait in the database", exc)
            return
        self.board = StaffBoard(self.repo, poster)
        log.info("desk: staff channel %s is live", self.settings.staff.channel_id)
        await self.board.run(self.settings.staff.sync_seconds)


def build_desk(daemon: Daemon) -> DeskService | None:
    """The BUILDERS entry: None when no staff connector is configured (CLI-only desk)."""
    wanted = daemon.config.desk.staff.connector
    if not wanted:
        return None
    found = next((c for c in daemon.connectors if c.name == wanted), None)
    if found is None:
        names = ", ".join(c.name for c in daemon.connectors) or "none"
        raise ConfigError(
            f"{daemon.config.source}: desk.staff.connector = {wanted!r}: no such enabled "
            f"connector (enabled: {names})"
        )
    settings = getattr(found, "settings", None)
    watched = getattr(settings, "channel_ids", ())
    if daemon.config.desk.staff.channel_id in watched:
        raise ConfigError(
            f"{daemon.config.source}: desk.staff.channel_id is also in "
            f"connectors.{wanted}.channel_ids: staff talk would be read as customer messages"
        )
    return DeskService(daemon, found)
