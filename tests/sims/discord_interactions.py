"""Interactions for the fake Discord: slash commands and button clicks from staff members.

Extends :class:`tests.sims.discord_sim.FakeDiscord` from the outside (its ``rest_route`` and
``dispatch`` hooks): application-command registration (``PUT .../commands``), message edits
(``PATCH /channels/{c}/messages/{m}``), ``INTERACTION_CREATE`` over the gateway, and the
interaction callback endpoint the bot answers on. Payloads follow the interaction object of
the Discord API documentation (type 2 application command, type 3 message component).

Discord does not ask for a bot token on interaction callbacks (the interaction token is
the credential) and discord.py sends none, while the fake checks every REST call: the
wrapper installed here lets callbacks through the same way Discord does. Install before
``FakeDiscord.start()``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.sims import discord_payloads as p
from tests.sims.discord_payloads import Json
from tests.sims.discord_sim import FakeDiscord, json_response

EPHEMERAL = 64
OPTION_TYPES = {"ticket": 4, "text": 3, "agent": 6, "name": 3, "duration": 3}


@dataclass
class Callback:
    interaction_id: str
    type: int  # 4 = channel message with source
    data: Json

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass
class Staff:
    """A guild member who types commands, with the roles Discord reports for them."""

    user: Json
    roles: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.user["id"])


class DeskInteractions:
    """Adds the desk's side of Discord to a fake; drives commands as a staff member would."""

    def __init__(self, sim: FakeDiscord) -> None:
        self.sim = sim
        self.commands: dict[str, Json] = {}  # registered slash commands by name
        self.command_puts: list[str] = []  # paths of registration calls
        self.callbacks: dict[str, Callback] = {}
        self.edits: list[Json] = []  # PATCH bodies, with the message id
        self.components: dict[str, list[Json]] = {}  # message id -> current components
        self.embeds: dict[str, list[Json]] = {}  # message id -> current embeds
        self._ids = itertools.count(1)
        self._install()

    # -- the world ---------------------------------------------------------------------------
    def add_role(self, name: str) -> int:
        """A guild role (before the bot connects: GUILD_CREATE carries the role list)."""
        role_id = self.sim.ids.next()
        role = p.role(role_id, name)
        role["position"] = len(self.sim.guild["roles"])
        self.sim.guild["roles"].append(role)
        return role_id

    def staff(self, username: str, *roles: int) -> Staff:
        return Staff(self.sim.add_user(username), list(roles))

    def staff_messages(self, channel_id: int) -> list[Json]:
        """What the bot posted in a channel, with the request body it sent."""
        return [m for m in self.sim.sent if m["channel_id"] == str(channel_id)]

    # -- driving -----------------------------------------------------------------------------
    async def slash(self, who: Staff, channel_id: int, command: str, /, **options: Any) -> Callback:
        """``/command option:value ...`` typed by ``who`` in ``channel_id``; waits for it."""
        registered = self.commands.get(command)
        assert registered is not None, f"/{command} not registered (have {list(self.commands)})"
        resolved: Json = {}
        values = []
        for key, value in options.items():
            kind = OPTION_TYPES.get(key, 3)
            if isinstance(value, Staff):
                resolved.setdefault("users", {})[str(value.id)] = value.user
                resolved.setdefault("members", {})[str(value.id)] = self._member(value, False)
                value = str(value.id)
            values.append({"name": key, "type": kind, "value": value})
        data: Json = {"id": registered["id"], "name": command, "type": 1, "options": values}
        if "guild_id" in registered:  # guild commands say which guild registered them
            data["guild_id"] = registered["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return await self._interact(who, channel_id, 2, data)

    async def click(self, who: Staff, channel_id: int, message_id: str, custom_id: str) -> Callback:
        """``who`` presses the button ``custom_id`` on a message the bot posted."""
        components = self.components.get(message_id, [])
        ids = [c.get("custom_id") for row in components for c in row.get("components", [])]
        assert custom_id in ids, f"no button {custom_id!r} on message {message_id} (has {ids})"
        data = {"custom_id": custom_id, "component_type": 2}
        message = self._message(channel_id, message_id)
        return await self._interact(who, channel_id, 3, data, message)

    async def _interact(
        self, who: Staff, channel_id: int, kind: int, data: Json, message: Json | None = None
    ) -> Callback:
        interaction_id = str(self.sim.ids.next())
        payload: Json = {
            "id": interaction_id,
            "application_id": str(self.sim.app_id),
            "type": kind,
            "data": data,
            "guild_id": str(self.sim.guild_id),
            "channel_id": str(channel_id),
            "channel": self.sim.channels[channel_id],
            "member": self._member(who, True),
            "token": f"interaction-token-{next(self._ids)}",
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.sim.guild_id)},
            "context": 0,
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            payload["message"] = message
        await self.sim.dispatch("INTERACTION_CREATE", payload)
        await self.sim.wait_until(
            lambda: interaction_id in self.callbacks, f"an answer to interaction {interaction_id}"
        )
        return self.callbacks[interaction_id]

    def _member(self, who: Staff, with_user: bool) -> Json:
        member = p.member(who.id, who.roles)
        member["permissions"] = "2248473465835073"
        return {**member, "user": who.user} if with_user else member

    def _message(self, channel_id: int, message_id: str) -> Json:
        found = next(m for m in self.sim.history[channel_id] if m["id"] == message_id)
        return {
            **found,
            "components": self.components.get(message_id, []),
            "embeds": self.embeds.get(message_id, []),
        }

    # -- endpoints ---------------------------------------------------------------------------
    def _install(self) -> None:
        sim = self.sim
        original = sim._rest

        async def rest(request: web.Request) -> web.Response:
            if request.path.startswith("/api/v10/interactions/"):
                auth = {"Authorization": f"Bot {sim.token}"}
                request = request.clone(headers={**request.headers, **auth})
            response = await original(request)
            self._track_created()
            return response

        sim._rest = rest  # type: ignore[method-assign]
        sim.rest_route("PUT", r"/applications/(?P<app>\d+)/commands", self._put_commands)
        sim.rest_route(
            "PUT", r"/applications/(?P<app>\d+)/guilds/(?P<guild>\d+)/commands", self._put_commands
        )
        sim.rest_route(
            "POST", r"/interactions/(?P<id>\d+)/(?P<token>[^/]+)/callback", self._callback
        )
        sim.rest_route("PATCH", r"/channels/(?P<channel>\d+)/messages/(?P<message>\d+)", self._edit)

    def _track_created(self) -> None:
        for sent in self.sim.sent:
            body = sent.get("request") or {}
            if sent["id"] not in self.components:
                self.components[sent["id"]] = list(body.get("components") or [])
                self.embeds[sent["id"]] = list(body.get("embeds") or [])

    async def _put_commands(self, request: web.Request, match: re.Match[str]) -> web.Response:
        self.command_puts.append(request.path)
        body: list[Json] = await request.json()
        answer = []
        for command in body:
            stored = {
                **command,
                "id": str(self.sim.ids.next()),
                "application_id": str(self.sim.app_id),
                "version": str(self.sim.ids.next()),
                "default_member_permissions": command.get("default_member_permissions"),
            }
            if match.groupdict().get("guild"):
                stored["guild_id"] = match["guild"]
            self.commands[command["name"]] = stored
            answer.append(stored)
        return json_response(answer)

    async def _callback(self, request: web.Request, match: re.Match[str]) -> web.Response:
        body: Json = await request.json()
        interaction_id = match["id"]
        callback = Callback(interaction_id, int(body["type"]), body.get("data") or {})
        self.callbacks[interaction_id] = callback
        answer = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_id": str(self.sim.ids.next()),
                "response_message_loading": False,
                "response_message_ephemeral": callback.ephemeral,
            }
        }
        return json_response(answer)

    async def _edit(self, request: web.Request, match: re.Match[str]) -> web.Response:
        channel_id, message_id = int(match["channel"]), match["message"]
        found = next(
            (m for m in self.sim.history.get(channel_id, []) if m["id"] == message_id), None
        )
        if found is None:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        body: Json = await request.json()
        self.edits.append({**body, "id": message_id})
        if "content" in body:
            found["content"] = body["content"]
        if "components" in body:
            self.components[message_id] = list(body["components"] or [])
        if "embeds" in body:
            self.embeds[message_id] = list(body["embeds"] or [])
        return json_response(
            {
                **found,
                "embeds": self.embeds.get(message_id, []),
                "components": self.components.get(message_id, []),
                "edited_timestamp": found["timestamp"],
            }
        )
