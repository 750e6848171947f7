"""The agent desk's Discord front end: slash commands and card buttons.

Slash commands are generated from ``bot.desk.commands.COMMANDS`` (one explicit list) as
discord.py ``app_commands.Command`` objects; card buttons are a ``DynamicItem`` whose
custom id carries the action and the ticket, so they keep working after a restart. Both
end in :meth:`bot.desk.desk.Desk.execute` with an :class:`Actor` built from what Discord
vouches for (user id, member roles, channel) — never from message text.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Literal

import discord
from discord import app_commands
from discord.http import Route
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.desk.commands import COMMANDS, Command, ParamKind
from bot.desk.desk import Desk
from bot.desk.guards import Actor
from bot.desk.handlers import Args, Assignee, Reply
from bot.desk.settings import StaffSettings
from bot.errors import BotError
from connectors.discord.connector import DiscordConnector
from connectors.discord.staff import BUTTONS, DiscordStaffPoster, custom_id

log = logging.getLogger(__name__)

BUTTON_ARGS = {"snooze": Args(duration="2h"), "resolve": Args(resolution="other")}
_BUTTON_LOOK = {action: (label, style) for action, label, style, _ in BUTTONS}
_TEMPLATE = re.compile(r"desk:(?P<action>claim|snooze|resolve|reopen):(?P<ticket>\d+)")
MAX_CONTENT = 2000


class _RedirectingAdapter(AsyncWebhookAdapter):
    """Interaction responses go to the connector's ``api_base`` (tests, egress proxies).

    discord.py posts interaction callbacks through its webhook adapter, which builds URLs
    from the global ``Route.BASE``; this adapter rewrites them for one interaction only.
    """

    def __init__(self, api_base: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.api_base = api_base

    async def request(self, route: Route, *args: Any, **kwargs: Any) -> Any:
        if route.url.startswith(Route.BASE):
            route.url = self.api_base + route.url[len(Route.BASE) :]
        return await super().request(route, *args, **kwargs)


def actor_of(interaction: discord.Interaction[Any]) -> Actor:
    user = interaction.user
    roles = user.roles if isinstance(user, discord.Member) else []
    return Actor(
        id=f"discord:{user.id}",
        name=user.display_name,
        source="discord",
        role_ids=frozenset(r.id for r in roles),
        role_names=frozenset(r.name for r in roles),
        channel_id=interaction.channel_id,
        user_id=user.id,
    )


def _annotation(kind: ParamKind, choices: tuple[str, ...], required: bool) -> Any:
    base: Any = {
        ParamKind.TICKET: app_commands.Range[int, 1, None],
        ParamKind.TEXT: app_commands.Range[str, 1, MAX_CONTENT],
        ParamKind.AGENT: discord.Member,
        ParamKind.WORD: app_commands.Range[str, 1, 100],
        ParamKind.CHOICE: Literal.__getitem__(choices) if choices else str,
    }[kind]
    return base if required else base | None


class DeskFrontend:
    """Runs desk commands coming from one Discord client and answers them."""

    def __init__(self, desk: Desk, api_base: str | None, guild_id: int | None) -> None:
        self.desk = desk
        self.api_base = api_base
        self.guild = discord.Object(guild_id) if guild_id else None
        self.button = self.button_class()

    @contextlib.contextmanager
    def _responses(self) -> Iterator[None]:
        if self.api_base is None:
            yield
            return
        token = async_context.set(_RedirectingAdapter(self.api_base))
        try:
            yield
        finally:
            async_context.reset(token)

    async def run(self, interaction: discord.Interaction[Any], name: str, args: Args) -> None:
        with self._responses():
            try:
                reply = await self.desk.execute(actor_of(interaction), name, args)
            except BotError as exc:
                reply = Reply(f"Could not do that: {exc}", private=True)
            except Exception:
                log.exception("desk command %s failed", name)
                reply = Reply("Something went wrong; the error is in the bot's log.", private=True)
            text = reply.text if len(reply.text) <= MAX_CONTENT else reply.text[:1999] + "…"
            await interaction.response.send_message(
                text, ephemeral=reply.private, allowed_mentions=discord.AllowedMentions.none()
            )

    # -- slash commands --------------------------------------------------------------------------
    def slash_command(self, command: Command) -> app_commands.Command[Any, ..., None]:
        async def callback(interaction: discord.Interaction[Any], **values: Any) -> None:
            await self.run(interaction, command.name, _args(values))

        params = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=discord.Interaction,
            )
        ]
        for param in command.params:
            params.append(
                inspect.Parameter(
                    param.name,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                    default=inspect.Parameter.empty if param.required else None,
                    annotation=_annotation(param.kind, param.choices, param.required),
                )
            )
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
            p.name: p.help for p in command.params
        }
        return app_commands.Command(name=command.name, description=command.help, callback=callback)

    def install(self, client: discord.Client) -> app_commands.CommandTree[discord.Client]:
        tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
        for command in COMMANDS:
            tree.add_command(self.slash_command(command), guild=self.guild)
        client.add_dynamic_items(self.button)
        return tree

    async def sync(self, tree: app_commands.CommandTree[discord.Client]) -> int:
        synced = await tree.sync(guild=self.guild)
        log.info("desk: %d slash command(s) registered on Discord", len(synced))
        return len(synced)

    # -- buttons ---------------------------------------------------------------------------------
    def button_class(self) -> Any:
        """A DynamicItem class bound to this front end (registered once per client)."""
        frontend = self

        class DeskButton(
            discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=_TEMPLATE
        ):
            def __init__(self, action: str, ticket: int) -> None:
                label, style = _BUTTON_LOOK[action]
                super().__init__(
                    discord.ui.Button(label=label, style=style, custom_id=custom_id(action, ticket))
                )
                self.action, self.ticket = action, ticket

            @classmethod
            async def from_custom_id(
                cls,
                interaction: discord.Interaction[Any],
                item: discord.ui.Item[Any],
                match: re.Match[str],
            ) -> DeskButton:
                return cls(match["action"], int(match["ticket"]))

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                args = replace(BUTTON_ARGS.get(self.action, Args()), ticket=self.ticket)
                await frontend.run(interaction, self.action, args)

        return DeskButton


def _args(values: dict[str, Any]) -> Args:
    agent = values.pop("agent", None)
    if isinstance(agent, discord.abc.User):
        values["agent"] = Assignee(f"discord:{agent.id}", agent.display_name)
    return Args(**values)


async def attach_desk(
    connector: DiscordConnector, desk: Desk, staff: StaffSettings
) -> DiscordStaffPoster:
    """Wait for the gateway, install commands and buttons, register them; return a poster."""
    await connector.wait_ready()
    frontend = DeskFrontend(desk, connector.settings.api_base, staff.guild_id)
    tree = frontend.install(connector.client)
    try:
        await frontend.sync(tree)
    except discord.HTTPException as exc:  # e.g. the bot lacks the applications.commands scope
        log.error("desk: slash commands not registered (%s); buttons still work", exc.status)
    button = frontend.button
    return DiscordStaffPoster(connector, staff, lambda action, ticket: button(action, ticket))
