"""The discord.py client the connector drives, with endpoints overridable per instance.

discord.py keeps its REST base (``Route.BASE``) and gateway URL
(``DiscordWebSocket.DEFAULT_GATEWAY``) in class attributes: changing them would redirect
every client in the process. Instead :class:`RedirectingHTTPClient` rewrites each request
URL and each websocket URL of *one* client, so a test (or an egress proxy) can point one
connector at another host while anything else in the process still talks to Discord.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

import aiohttp
import discord
import yarl
from discord.http import HTTPClient, Route

from connectors.discord.settings import DiscordSettings

log = logging.getLogger(__name__)


class GatewaySink(Protocol):
    """What the client reports to its connector; the connector knows nothing of events."""

    def on_live_message(self, message: discord.Message) -> None: ...

    def on_gateway_ready(self, how: str) -> None: ...

    def on_gateway_lost(self) -> None: ...

    def on_rate_limit(self, remaining: int | None, reset: datetime | None) -> None: ...


class RedirectingHTTPClient(HTTPClient):
    """discord.py's HTTP client with this instance's REST base and gateway URL swapped."""

    def __init__(
        self,
        *args: Any,
        api_base: str | None,
        gateway_url: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._api_base = api_base
        self._gateway = yarl.URL(gateway_url) if gateway_url else None

    async def request(self, route: Route, **kwargs: Any) -> Any:
        if self._api_base is not None and route.url.startswith(Route.BASE):
            route.url = self._api_base + route.url[len(Route.BASE) :]
        return await super().request(route, **kwargs)

    async def ws_connect(self, url: str, *, compress: int = 0) -> aiohttp.ClientWebSocketResponse:
        if self._gateway is not None:
            # READY's resume_gateway_url and the default gateway both land here.
            original = yarl.URL(url)
            url = str(self._gateway.with_query(original.query))
        return await super().ws_connect(url, compress=compress)


class ConnectorClient(discord.Client):
    """A plain discord.Client that forwards the events the connector needs to a sink.

    Kept a plain ``discord.Client`` so the agent desk can attach an
    ``app_commands.CommandTree`` and views to it later (``DiscordConnector.client``).
    """

    def __init__(self, settings: DiscordSettings, sink: GatewaySink) -> None:
        trace = rate_limit_trace(sink.on_rate_limit)
        super().__init__(
            intents=intents_for(settings),
            guild_ready_timeout=settings.guild_ready_timeout,
            max_ratelimit_timeout=settings.max_rate_limit_wait,
            http_trace=trace,
            chunk_guilds_at_startup=False,
            max_messages=None,  # the connector keeps its own small dedup window
        )
        self._sink = sink
        if settings.api_base is not None or settings.gateway_url is not None:
            http = RedirectingHTTPClient(
                self.loop,
                None,
                api_base=settings.api_base,
                gateway_url=settings.gateway_url,
                http_trace=trace,
                max_ratelimit_timeout=settings.max_rate_limit_wait,
            )
            self.http = http
            self._connection.http = http

    async def on_message(self, message: discord.Message) -> None:
        self._sink.on_live_message(message)

    async def on_ready(self) -> None:
        self._sink.on_gateway_ready("ready")

    async def on_resumed(self) -> None:
        self._sink.on_gateway_ready("resumed")

    async def on_disconnect(self) -> None:
        if not self.is_closed():
            self._sink.on_gateway_lost()


def intents_for(settings: DiscordSettings) -> discord.Intents:
    """The smallest set of intents: mentions and DMs carry content without the privileged one."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = settings.dms
    intents.message_content = settings.message_content_intent
    return intents


def rate_limit_trace(
    report: Callable[[int | None, datetime | None], None],
) -> aiohttp.TraceConfig:
    """Read Discord's rate-limit headers off every response so health can show the budget."""

    async def on_end(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        headers = params.response.headers
        remaining = _int_header(headers.get("X-RateLimit-Remaining"))
        reset_after = _float_header(headers.get("X-RateLimit-Reset-After"))
        if params.response.status == 429:
            remaining = 0
            reset_after = reset_after or _float_header(headers.get("Retry-After"))
        if remaining is None and params.response.status != 429:
            return
        reset = datetime.now(UTC) + timedelta(seconds=reset_after) if reset_after else None
        report(remaining, reset)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float_header(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
