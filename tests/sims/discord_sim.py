"""A loopback fake of Discord: websocket gateway and the REST endpoints the bot uses.

The real discord.py client connects to it (REST base and gateway URL pointed here). It
speaks the gateway protocol (HELLO, IDENTIFY, READY, GUILD_CREATE, MESSAGE_CREATE,
heartbeats and ACKs, RESUME with replay, RESUMED, INVALID_SESSION, server-side
disconnects), keeps channel history, records every request and everything the bot
posted, and injects faults (429 with reset headers, 5xx, failures after the write).

Extending it (the agent desk will need INTERACTION_CREATE): ``dispatch(event, data)``
sends any gateway event, ``rest_route(method, regex, handler)`` adds a REST endpoint.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.sims import discord_payloads as p
from tests.sims.discord_payloads import Json

Handler = Callable[[web.Request, "re.Match[str]"], Awaitable[web.Response]]

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 9, 10, 11


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Exactly ``application/json``: with a charset discord.py reads the body as text."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=all_headers)


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    retry_after: float = 0.0
    after_commit: bool = False  # do the write, then answer the error (lost response)


@dataclass
class Session:
    session_id: str
    seq: int = 0
    events: list[Json] = field(default_factory=list)  # every dispatched frame, for replay
    ws: web.WebSocketResponse | None = None  # set once READY/RESUMED was sent
    resumable: bool = True


class FakeDiscord:
    """One guild, one bot, any number of customers; state lives in plain dicts."""

    def __init__(self, *, token: str = "fake-bot-token") -> None:
        self.token = token
        self.gateway_token = token  # set apart to make IDENTIFY fail with 4004
        self.ids = p.Snowflakes()
        self.app_id = self.ids.next()
        self.bot = p.user(self.app_id, "socialbot", bot=True)
        self.owner = p.user(self.ids.next(), "owner")
        self.guild_id = self.ids.next()
        self.bot_role_id = self.ids.next()
        roles = [
            p.role(self.guild_id, "@everyone"),
            p.role(self.bot_role_id, "socialbot", bot_id=self.app_id),
        ]
        self.guild = p.guild(self.guild_id, int(self.owner["id"]), roles)
        self.channels: dict[int, Json] = {}
        self.history: dict[int, list[Json]] = {}
        self.dm_of_user: dict[int, int] = {}
        self.sent: list[Json] = []  # messages the bot created (payload as stored)
        self.requests: list[tuple[str, str]] = []  # (method, path?query) of every REST call
        self.gateway_frames: list[Json] = []  # every frame the bot sent on the gateway
        self.identifies = 0
        self.resumes = 0
        self.sessions: dict[str, Session] = {}
        self.faults: list[Fault] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._nonces: dict[str, Json] = {}
        self._held = asyncio.Event()
        self._held.set()  # set = gateway lets clients in
        self._sockets: set[web.WebSocketResponse] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._install_routes()

    # -- server lifecycle ----------------------------------------------------------
    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        self._held.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/gateway"

    # -- world -----------------------------------------------------------------------
    def add_user(self, username: str, *, bot: bool = False) -> Json:
        return p.user(self.ids.next(), username, bot=bot)

    def add_channel(self, name: str) -> int:
        channel_id = self.ids.next()
        self.channels[channel_id] = p.text_channel(
            channel_id, self.guild_id, name, len(self.channels)
        )
        self.history[channel_id] = []
        return channel_id

    def dm_channel(self, recipient: Json) -> int:
        user_id = int(recipient["id"])
        if user_id not in self.dm_of_user:
            channel_id = self.ids.next()
            self.channels[channel_id] = p.dm_channel(channel_id, recipient)
            self.history[channel_id] = []
            self.dm_of_user[user_id] = channel_id
        return self.dm_of_user[user_id]

    async def post(
        self,
        channel_id: int,
        author: Json,
        content: str,
        *,
        mention_bot: bool = False,
        reply_to: Json | None = None,
        nonce: str | int | None = None,
        at: datetime | None = None,
    ) -> Json:
        """Someone writes in a channel: stored in history and sent to connected sessions.

        ``at`` back-dates the message (its snowflake), to test look-back windows.
        """
        mentions = [self._mentioned(self.bot)] if mention_bot else []
        if mention_bot:
            content = f"<@{self.bot['id']}> {content}"
        reference = referenced = None
        if reply_to is not None:
            reference = {"message_id": reply_to["id"], "channel_id": str(channel_id), "type": 0}
            if self._is_guild(channel_id):
                reference["guild_id"] = str(self.guild_id)
            referenced = reply_to
        message_id = self.ids.next() if at is None else self.ids.at(at)
        msg = p.message(
            message_id, channel_id, author, content,
            mentions=mentions, reference=reference, referenced=referenced, nonce=nonce,
        )  # fmt: skip
        bisect.insort(self.history[channel_id], msg, key=lambda m: int(m["id"]))
        await self.dispatch("MESSAGE_CREATE", self.message_create(msg))
        return msg

    async def dm(self, author: Json, content: str) -> Json:
        return await self.post(self.dm_channel(author), author, content)

    def message_create(self, msg: Json) -> Json:
        """The gateway form: guild messages gain guild_id and the author's member."""
        event = dict(msg)
        if self._is_guild(int(msg["channel_id"])):
            event["guild_id"] = str(self.guild_id)
            event["member"] = p.member(int(msg["id"]))
        return event

    def _is_guild(self, channel_id: int) -> bool:
        return "guild_id" in self.channels[channel_id]

    def _mentioned(self, who: Json) -> Json:
        return {**who, "member": p.member(int(who["id"]))}

    # -- gateway control ---------------------------------------------------------------
    async def dispatch(self, event: str, data: Json) -> None:
        """Send a DISPATCH to every live session; disconnected sessions keep it for RESUME."""
        for session in self.sessions.values():
            session.seq += 1
            frame = p.envelope(OP_DISPATCH, data, session.seq, event)
            session.events.append(frame)
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_json(frame)
        await self._notify()

    async def drop_gateway(self, *, hold: bool = False, code: int = 4000) -> None:
        """Server-side disconnect; with ``hold`` new connections wait before HELLO."""
        if hold:
            self._held.clear()
        for session in self.sessions.values():
            session.ws = None
        for ws in list(self._sockets):
            await ws.close(code=code, message=b"fake disconnect")
        await self._notify()

    def release_gateway(self) -> None:
        self._held.set()

    def expire_sessions(self) -> None:
        """Sessions can no longer be resumed: RESUME gets INVALID_SESSION(false)."""
        for session in self.sessions.values():
            session.resumable = False

    async def invalidate_session(self) -> None:
        """Send INVALID_SESSION(false) on the live connection, as Discord does at random."""
        for session in self.sessions.values():
            session.resumable = False
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_json(p.envelope(OP_INVALID_SESSION, False))

    def live_sessions(self) -> int:
        return sum(1 for s in self.sessions.values() if s.ws is not None and not s.ws.closed)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._held.wait()
            await ws.send_json(p.envelope(OP_HELLO, {"heartbeat_interval": 41250}))
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    break
                await self._on_frame(ws, json.loads(frame.data))
        finally:
            self._sockets.discard(ws)
            await self._notify()
        return ws

    async def _on_frame(self, ws: web.WebSocketResponse, frame: Json) -> None:
        self.gateway_frames.append(frame)
        op, data = frame.get("op"), frame.get("d") or {}
        if op == OP_HEARTBEAT:
            await ws.send_json(p.envelope(OP_HEARTBEAT_ACK, None))
        elif op == OP_IDENTIFY:
            await self._identify(ws, data)
        elif op == OP_RESUME:
            await self._resume(ws, data)
        await self._notify()

    async def _identify(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.identifies += 1
        if data.get("token") != self.gateway_token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        session = Session(session_id=uuid.uuid4().hex)
        self.sessions = {session.session_id: session}
        session.seq += 1
        ready = p.ready(self.bot, self.guild_id, session.session_id, self.gateway_url, self.app_id)
        await ws.send_json(p.envelope(OP_DISPATCH, ready, session.seq, "READY"))
        session.ws = ws
        guild_channels = [c for c in self.channels.values() if "guild_id" in c]
        me = p.member(self.guild_id, [self.bot_role_id])
        await self.dispatch(
            "GUILD_CREATE", p.guild_create(self.guild, guild_channels, self.bot, me)
        )

    async def _resume(self, ws: web.WebSocketResponse, data: Json) -> None:
        self.resumes += 1
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.resumable or data.get("token") != self.gateway_token:
            await ws.send_json(p.envelope(OP_INVALID_SESSION, False))
            return
        after = int(data.get("seq") or 0)
        for frame in session.events:
            if frame["s"] > after:
                await ws.send_json(frame)
        session.seq += 1
        await ws.send_json(p.envelope(OP_DISPATCH, {}, session.seq, "RESUMED"))
        session.ws = ws

    # -- REST --------------------------------------------------------------------------
    def rest_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Add an endpoint (path after /api/v10, as a regex); later routes win."""
        self._routes.insert(0, (method, re.compile(pattern + "$"), handler))

    def fail(
        self,
        method: str,
        pattern: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 0.0,
        after_commit: bool = False,
    ) -> None:
        """The next ``times`` matching calls answer ``status`` (429 with Discord's headers)."""
        self.faults.append(
            Fault(method, re.compile(pattern + "$"), status, times, retry_after, after_commit)
        )

    def _install_routes(self) -> None:
        from tests.sims.discord_rest import install

        install(self)

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        self.requests.append((request.method, request.path_qs.removeprefix("/api/v10")))
        auth = request.headers.get("Authorization")
        if path not in {"/gateway"} and auth != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        fault = self._take_fault(request.method, path)
        if fault is not None and not fault.after_commit:
            return _fault_response(fault)
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if method == request.method and match is not None:
                response = await handler(request, match)
                await self._notify()
                return _fault_response(fault) if fault is not None else response
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path.match(path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    # -- waiting ---------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait for the fake's state to satisfy ``predicate``; a guard, not a timing check."""

        async def wait() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        try:
            await asyncio.wait_for(wait(), 15)
        except TimeoutError:
            raise AssertionError(f"fake Discord never saw: {what}") from None


def _fault_response(fault: Fault) -> web.Response:
    if fault.status == 429:
        headers = {
            "Via": "1.1 google",  # without it discord.py takes a 429 for a Cloudflare ban
            "Retry-After": str(max(1, round(fault.retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{fault.retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "user",
        }
        body = {
            "message": "You are being rate limited.",
            "retry_after": fault.retry_after,
            "global": False,
        }
        return json_response(body, 429, headers)
    body = {"message": f"{fault.status}: fake failure", "code": 0}
    return json_response(body, fault.status)
