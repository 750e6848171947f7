"""The REST endpoints of the fake Discord that the bot calls (paths after /api/v10)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from tests.sims import discord_payloads as p
from tests.sims.discord_payloads import Json

if TYPE_CHECKING:
    from tests.sims.discord_sim import FakeDiscord

MAX_CONTENT = 2000
_BUCKET_HEADERS = {
    "X-RateLimit-Limit": "5",
    "X-RateLimit-Remaining": "4",
    "X-RateLimit-Reset-After": "5.000",
    "X-RateLimit-Bucket": "fake-messages",
}


def install(sim: FakeDiscord) -> None:
    from tests.sims.discord_sim import json_response

    async def me(request: web.Request, match: re.Match[str]) -> web.Response:
        return json_response(sim.bot)

    async def application(request: web.Request, match: re.Match[str]) -> web.Response:
        return json_response(p.application(sim.app_id, sim.owner))

    async def gateway(request: web.Request, match: re.Match[str]) -> web.Response:
        return json_response({"url": sim.gateway_url})

    async def gateway_bot(request: web.Request, match: re.Match[str]) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
        return json_response({"url": sim.gateway_url, "shards": 1, "session_start_limit": limit})

    async def channel(request: web.Request, match: re.Match[str]) -> web.Response:
        found = sim.channels.get(int(match["channel"]))
        if found is None:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        return json_response(found)

    async def messages(request: web.Request, match: re.Match[str]) -> web.Response:
        channel_id = int(match["channel"])
        if channel_id not in sim.history:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        return json_response(_page(sim.history[channel_id], request.query))

    async def create(request: web.Request, match: re.Match[str]) -> web.Response:
        channel_id = int(match["channel"])
        if channel_id not in sim.history:
            return json_response({"message": "Unknown Channel", "code": 10003}, 404)
        body: Json = await request.json()
        return await _create_message(sim, channel_id, body)

    async def open_dm(request: web.Request, match: re.Match[str]) -> web.Response:
        body: Json = await request.json()
        recipient = _find_user(sim, int(body["recipient_id"]))
        return json_response(sim.channels[sim.dm_channel(recipient)])

    sim.rest_route("GET", r"/users/@me", me)
    sim.rest_route("GET", r"/oauth2/applications/@me", application)
    sim.rest_route("GET", r"/gateway", gateway)
    sim.rest_route("GET", r"/gateway/bot", gateway_bot)
    sim.rest_route("GET", r"/channels/(?P<channel>\d+)", channel)
    sim.rest_route("GET", r"/channels/(?P<channel>\d+)/messages", messages)
    sim.rest_route("POST", r"/channels/(?P<channel>\d+)/messages", create)
    sim.rest_route("POST", r"/users/@me/channels", open_dm)


def _page(history: list[Json], query: object) -> list[Json]:
    """Discord's paging: at most ``limit`` messages, newest first, after/before a snowflake."""
    get = getattr(query, "get")  # noqa: B009 - MultiDictProxy
    limit = max(1, min(100, int(get("limit", "50"))))
    after, before = get("after"), get("before")
    chosen = history
    if after is not None:
        chosen = [m for m in chosen if int(m["id"]) > int(after)][:limit]
    elif before is not None:
        chosen = [m for m in chosen if int(m["id"]) < int(before)][-limit:]
    else:
        chosen = chosen[-limit:]
    return list(reversed(chosen))


async def _create_message(sim: FakeDiscord, channel_id: int, body: Json) -> web.Response:
    from tests.sims.discord_sim import json_response

    content = body.get("content") or ""
    if not content or len(content) > MAX_CONTENT:
        error = {"message": "Invalid Form Body", "code": 50035}
        return json_response(error, 400)
    nonce = body.get("nonce")
    if body.get("enforce_nonce") and nonce is not None and str(nonce) in sim._nonces:
        return json_response(sim._nonces[str(nonce)], 200, _BUCKET_HEADERS)
    reference = body.get("message_reference")
    referenced = None
    if reference is not None:
        wanted = str(reference["message_id"])
        referenced = next((m for m in sim.history[channel_id] if m["id"] == wanted), None)
        if referenced is None and reference.get("fail_if_not_exists", True):
            error = {"message": "Unknown message", "code": 10008}
            return json_response(error, 400)
        if referenced is not None:  # stored as Discord returns it: ids as strings
            reference = {"type": 0, "message_id": wanted, "channel_id": str(channel_id)}
            if "guild_id" in sim.channels[channel_id]:
                reference["guild_id"] = str(sim.guild_id)
    msg = p.message(
        sim.ids.next(), channel_id, sim.bot, content,
        reference=reference if referenced is not None else None, referenced=referenced, nonce=nonce,
    )  # fmt: skip
    sim.history[channel_id].append(msg)
    sim.sent.append({**msg, "request": body})
    if nonce is not None:
        sim._nonces[str(nonce)] = msg
    await sim.dispatch("MESSAGE_CREATE", sim.message_create(msg))
    return json_response(msg, 200, _BUCKET_HEADERS)


def _find_user(sim: FakeDiscord, user_id: int) -> Json:
    """Recipients are whoever wrote in any channel; the fake has no user directory."""
    for history in sim.history.values():
        for msg in history:
            if int(msg["author"]["id"]) == user_id:
                return dict(msg["author"])
    return p.user(user_id, f"user{user_id}")
