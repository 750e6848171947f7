"""A loopback X API v2 for tests: the real tweepy talks to it over a socket.

In-process (tests)::

    async with XSim() as sim:           # binds 127.0.0.1, port 0
        sim.state.add_mention("alice", "my order is late")
        sim.inject("/2/users/*/mentions", status=429, times=3)
        ...  # XConnector with api_base_url=sim.base_url and sim.env() credentials
        assert sim.sent == [...]

Standalone (crash tests): ``python -m tests.sims.x_sim`` prints ``PORT=<n>`` and serves until
killed; ``/_sim/*`` control endpoints add mentions/DMs, inject faults and list what was sent.
It checks credentials like X does (bearer token, or an OAuth 1.0a HMAC-SHA1 signature over
the https://api.twitter.com URL) and the app's permission level (``app_permission``: a
read-only app gets X's 403 ``oauth1-permissions`` on POST /2/tweets), keeps per-endpoint
x-rate-limit-* budgets, and validates parameters (max_results ranges, user-context-only
endpoints).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import hmac
import math
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.sims import x_sim_access as access
from tests.sims.x_sim_state import XState, weighted_length, x_time
from tests.sims.x_sim_wire import (
    html_escape,
    int_param,
    invalid,
    oauth1_valid,
    page_token,
    parse_time,
    problem,
    requested,
    snowflake_time,
    window,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

OUR_ID = "1072250532645998596"  # the tweepy test account in the cassettes
OUR_USERNAME = "AcmeCare"
CREDENTIALS = {
    "X_BEARER_TOKEN": "sim-bearer-token",
    "X_CONSUMER_KEY": "sim-consumer-key",
    "X_CONSUMER_SECRET": "sim-consumer-secret",
    "X_ACCESS_TOKEN": f"{OUR_ID}-sim-access-token",
    "X_ACCESS_TOKEN_SECRET": "sim-access-token-secret",
}
# X's 15-minute budgets for the endpoints socialbot uses.
LIMITS = {
    "mentions": 450,
    "search": 450,
    "dm_events": 300,
    "me": 75,
    "tweets": 1500,
    "create_tweet": 200,
    "create_dm": 200,
}
WINDOW = 900


@dataclass
class Fault:
    """Applied to the next ``times`` requests whose path matches ``path`` (fnmatch)."""

    path: str
    kind: str = "status"  # status | slow | drop | truncate | garbage
    status: int = 503
    times: int = 1
    method: str | None = None
    reset_in: float = 1.0  # 429: x-rate-limit-reset = now + reset_in
    delay: float = 1.0  # slow: seconds before the (already processed) answer
    detail: str | None = None  # 403: X's text instead of its missing-permission answer


class XSim:
    def __init__(
        self,
        *,
        our_id: str = OUR_ID,
        our_username: str = OUR_USERNAME,
        credentials: dict[str, str] | None = None,
    ) -> None:
        self.state = XState(our_id, our_username)
        self.creds = dict(credentials or CREDENTIALS)
        self.token_valid = True
        # The app's OAuth 1.0a permission level (access.LEVELS); below an endpoint's: 403.
        self.app_permission = access.READ_WRITE_DM
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []  # method, path, status
        self._budget: dict[str, tuple[int, float]] = {}
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(middlewares=[self._middleware])
        self._routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> XSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> list[dict[str, Any]]:
        return self.state.sent

    def env(self) -> dict[str, str]:
        """The environment variables an XConnector needs to log in here."""
        return dict(self.creds)

    def inject(self, path: str, **kwargs: Any) -> Fault:
        fault = Fault(path=path, **kwargs)
        self.faults.append(fault)
        return fault

    def count(self, path_pattern: str, method: str = "GET") -> int:
        return sum(
            1 for m, p, _ in self.requests if m == method and fnmatch.fnmatch(p, path_pattern)
        )

    # -- middleware: faults, auth, budgets -------------------------------------------------

    def _take_fault(self, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if fnmatch.fnmatch(request.path, fault.path) and fault.method in (None, request.method):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        fault = self._take_fault(request)
        response = await self._before(request, fault) or await self._guarded(request, handler)
        self.requests.append((request.method, request.path, response.status))
        if fault is not None and fault.kind in {"slow", "drop", "truncate"}:
            return await self._after(request, response, fault)
        return response

    async def _before(self, request: web.Request, fault: Fault | None) -> web.Response | None:
        if fault is None or fault.kind in {"slow", "drop", "truncate"}:
            return None
        if fault.kind == "garbage":
            return web.Response(
                text="<html><body>upstream connect error</body></html>", content_type="text/html"
            )
        if fault.status == 429:
            return self._too_many(time.time() + fault.reset_in)
        if fault.status == 401:
            return problem(401, "Unauthorized", "Unauthorized")
        if fault.status == 403 and fault.detail:
            return problem(403, "Forbidden", fault.detail)
        if fault.status == 403:  # X's answer to an app (or token) lacking a permission
            return access.oauth1_permissions()
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(fault.status, "Error")
        return problem(fault.status, title, title)

    async def _after(
        self, request: web.Request, response: web.StreamResponse, fault: Fault
    ) -> web.StreamResponse:
        if fault.kind == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
            return response
        if fault.kind == "drop" and request.transport is not None:
            request.transport.abort()  # processed, but the answer never arrives
            return response
        body = response.body if isinstance(response, web.Response) else b""
        cut = bytes(body)[: max(1, len(bytes(body)) // 2)] if body else b"{"
        return web.Response(body=cut, status=response.status, content_type="application/json")

    def _too_many(self, reset_at: float) -> web.Response:
        response = problem(429, "Too Many Requests", "Too Many Requests")
        response.headers.update(
            {
                "x-rate-limit-limit": "450",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(math.ceil(reset_at)),
            }
        )
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        user_context = request.match_info.route.name in {
            "me",
            "dm_events",
            "dm_with",
            "create_tweet",
            "create_dm",
        }
        endpoint = request.match_info.route.name or "other"
        refusal = self._authenticate(request, user_context)
        refusal = refusal or access.refusal(self.app_permission, endpoint)
        if refusal is not None:
            return refusal
        limit = LIMITS.get(endpoint, 900)
        used, window_start = self._budget.get(endpoint, (0, time.time()))
        if time.time() - window_start >= WINDOW:
            used, window_start = 0, time.time()
        if used >= limit:
            return self._too_many(window_start + WINDOW)
        self._budget[endpoint] = (used + 1, window_start)
        response = await handler(request)
        response.headers.update(
            {
                "x-rate-limit-limit": str(limit),
                "x-rate-limit-remaining": str(limit - used - 1),
                "x-rate-limit-reset": str(math.ceil(window_start + WINDOW)),
            }
        )
        return response

    def _authenticate(self, request: web.Request, user_context: bool) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if not self.token_valid:
            return problem(401, "Unauthorized", "Unauthorized")
        if header.startswith("Bearer "):
            if user_context:
                return problem(
                    403,
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User "
                    "Context, OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication",
                )
            ok = hmac.compare_digest(header[7:], self.creds["X_BEARER_TOKEN"])
            return None if ok else problem(401, "Unauthorized", "Unauthorized")
        if header.startswith("OAuth ") and oauth1_valid(request, header, self.creds):
            return None
        return problem(401, "Unauthorized", "Unauthorized")

    # -- API endpoints -------------------------------------------------------------------

    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/2/users/me", self.get_me, name="me")
        r.add_get("/2/users/{id}/mentions", self.get_mentions, name="mentions")
        r.add_get("/2/users/{id}/tweets", self.get_user_tweets, name="tweets")
        r.add_get("/2/tweets/search/recent", self.get_search, name="search")
        r.add_get("/2/dm_events", self.get_dm_events, name="dm_events")
        r.add_get("/2/dm_conversations/with/{pid}/dm_events", self.get_dm_events, name="dm_with")
        r.add_post("/2/tweets", self.post_tweet, name="create_tweet")
        r.add_post("/2/dm_conversations/with/{pid}/messages", self.post_dm, name="create_dm")
        r.add_post("/_sim/{what}", self.control_post)
        r.add_get("/_sim/{what}", self.control_get)

    async def get_me(self, request: web.Request) -> web.Response:
        return web.json_response({"data": dict(self.state.users[self.state.our_id])})

    async def get_mentions(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        if user_id not in self.state.users:
            return problem(404, "Not Found Error", f"Could not find user with id: [{user_id}].")
        return self._timeline(
            request, self.state.mentions_of(user_id), (5, 100), "pagination_token"
        )

    async def get_user_tweets(self, request: web.Request) -> web.Response:
        user_id = request.match_info["id"]
        return self._timeline(request, self.state.tweets_by(user_id), (5, 100), "pagination_token")

    async def get_search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "")
        if not query:
            return invalid("The `query` query parameter can not be empty", "query")
        horizon = datetime.now(UTC) - timedelta(days=7)
        since, start = request.query.get("since_id"), request.query.get("start_time")
        if since and since.isdigit() and snowflake_time(since) < horizon:
            return invalid(
                f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created "
                f"after {x_time(horizon)}.",
                "since_id",
            )
        if start and parse_time(start) < horizon:
            return invalid(
                f"Invalid 'start_time':'{start}'. 'start_time' must be on or after "
                f"{x_time(horizon)}.",
                "start_time",
            )
        return self._timeline(request, self.state.search(query), (10, 100), "next_token")

    def _timeline(
        self, request: web.Request, tweets: list[Any], bounds: tuple[int, int], token_param: str
    ) -> web.Response:
        q = request.query
        size = int_param(q.get("max_results"), 10)
        low, high = bounds
        if size is None or not low <= size <= high:
            return invalid(
                f"The `max_results` query parameter value is not between {low} and {high}",
                "max_results",
            )
        chosen = window(tweets, q, token_param)
        if chosen is None:
            return invalid("invalid pagination token", token_param)
        page, more = chosen[:size], len(chosen) > size
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        fields = requested(q, "tweet.fields")
        body: dict[str, Any] = {"data": [self.state.tweet_json(t, fields) for t in page]}
        if "author_id" in requested(q, "expansions"):
            body["includes"] = {"users": self.state.users_json([t.author_id for t in page])}
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if more:
            meta["next_token"] = page_token(page[-1].id)
        body["meta"] = meta
        return web.json_response(body)

    async def get_dm_events(self, request: web.Request) -> web.Response:
        q = request.query
        size = int_param(q.get("max_results"), 100)
        if size is None or not 1 <= size <= 100:
            return invalid(
                "The `max_results` query parameter value is not between 1 and 100", "max_results"
            )
        events = self.state.dm_events_of(self.state.our_id, request.match_info.get("pid"))
        types = requested(q, "event_types")
        if types:
            events = [e for e in events if e.event_type in types]
        chosen = window(events, q, "pagination_token")
        if chosen is None:
            return invalid("invalid pagination token", "pagination_token")
        page, more = chosen[:size], len(chosen) > size
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        fields = requested(q, "dm_event.fields")
        body: dict[str, Any] = {"data": [self.state.dm_json(e, fields) for e in page]}
        if "sender_id" in requested(q, "expansions"):
            body["includes"] = {"users": self.state.users_json([e.sender_id for e in page])}
        meta: dict[str, Any] = {
            "result_count": len(page),
            "previous_token": page_token(page[0].id, "p"),
        }
        if more:
            meta["next_token"] = page_token(page[-1].id)
        body["meta"] = meta
        return web.json_response(body)

    async def post_tweet(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return invalid("text is required", "text")
        if weighted_length(text) > 280:
            return invalid("Tweet text is too long", "text")
        parent = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if parent is not None and parent not in self.state.tweets:
            return problem(
                403,
                "Forbidden",
                "The tweet you are replying to has been deleted or is not visible to you.",
            )
        if self.state.duplicate_of(self.state.our_id, text):
            return problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        tweet = self.state.add_tweet(self.state.our_id, text, in_reply_to=parent)
        self.state.sent.append(
            {
                "type": "tweet",
                "id": tweet.id,
                "text": text,
                "in_reply_to_tweet_id": parent,
                "conversation_id": tweet.conversation_id,
            }
        )
        return web.json_response(
            {"data": {"id": tweet.id, "text": html_escape(tweet.text)}}, status=201
        )

    async def post_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        pid = request.match_info["pid"]
        if pid not in self.state.users or pid == self.state.our_id:
            return invalid(f"Could not find user with id: [{pid}].", "participant_id")
        text = body.get("text")
        if not isinstance(text, str) or not text or len(text) > 10_000:
            return invalid("text must be 1 to 10000 characters", "text")
        event = self.state.add_dm(self.state.our_id, text, to=pid)
        self.state.sent.append(
            {
                "type": "dm",
                "dm_event_id": event.id,
                "text": text,
                "participant_id": pid,
                "dm_conversation_id": event.conversation_id,
            }
        )
        return web.json_response(
            {"data": {"dm_conversation_id": event.conversation_id, "dm_event_id": event.id}},
            status=201,
        )

    # -- control endpoints (standalone use) -----------------------------------------------

    async def control_post(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        body = await request.json() if request.can_read_body else {}
        items = body.get("items", [body]) if isinstance(body, dict) else body
        if what == "mentions":
            ids = [self.state.add_mention(i["author"], i["text"]).id for i in items]
        elif what == "tweets":
            ids = [
                self.state.add_tweet(i["author"], i["text"], in_reply_to=i.get("in_reply_to")).id
                for i in items
            ]
        elif what == "dms":
            ids = [self.state.add_dm(i["sender"], i["text"]).id for i in items]
        elif what == "faults":
            ids = [str(id(self.inject(**i))) for i in items]
        elif what == "token":
            self.token_valid = bool(body.get("valid", True))
            ids = []
        else:
            return web.json_response({"error": f"unknown control {what}"}, status=404)
        return web.json_response({"ids": ids})

    async def control_get(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        if what == "sent":
            return web.json_response({"sent": self.state.sent})
        if what == "requests":
            return web.json_response({"requests": self.requests})
        if what == "users":
            return web.json_response({"users": list(self.state.users.values())})
        return web.json_response({"error": f"unknown control {what}"}, status=404)


async def _serve(args: argparse.Namespace) -> None:
    sim = XSim(our_id=args.our_id, our_username=args.our_username)
    await sim.start(args.host, args.port)
    print(f"PORT={sim.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback X API v2 simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--our-id", default=OUR_ID)
    parser.add_argument("--our-username", default=OUR_USERNAME)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
