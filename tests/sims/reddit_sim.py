"""A loopback Reddit: OAuth token, inbox, mark read, replies, subreddit listings, faults.

Payload shapes follow PRAW's recorded cassettes (see test_reddit_conformance.py). Tests use
the Python API (``async with RedditSim() as sim``); a crash test can run it standalone::

    python -m tests.sims.reddit_sim [--port 0] [--username brand_support]

which prints ``PORT=<n>`` and serves control endpoints until SIGTERM: POST /_sim/inbox
(``{"type", "author", "body", ...}``), POST /_sim/subreddit/<sub>/<comments|new>
(``{"author", "text"}``), POST /_sim/fault (Fault fields), POST /_sim/expire_tokens,
POST /_sim/revoke, GET /_sim/sent (replies the bot posted), GET /_sim/unread.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.sims.reddit_sim_payloads import (
    RATELIMIT_TEXT,
    TOKEN_PATH,
    Fault,
    Json,
    SimState,
    inbox_thing,
    kind_of,
    listing,
    listing_thing,
    newest_first,
    our_comment,
    our_message,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_INBOX_TYPES = {
    "unread": None,
    "inbox": None,
    "mentions": {"username_mention"},
    "messages": {"unknown"},
    "comments": {"comment_reply"},
    "selfreply": {"post_reply"},
}


class RedditSim:
    """The simulator: state + aiohttp app. ``async with RedditSim() as sim: sim.url``."""

    def __init__(self, **state: Any) -> None:
        self.state = SimState(**state)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> RedditSim:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application(middlewares=[self._middleware])
        _install_routes(app, self)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound = int(self._runner.addresses[0][1])
        self.url = f"http://{host}:{bound}"
        return bound

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- content: the Python API tests use ----------------------------------------------------

    def add_inbox(self, type_: str, author: str, body: str, **extra: Any) -> str:
        """type_: username_mention | comment_reply | post_reply | message. Returns the fullname."""
        kind = "t4" if type_ == "message" else "t1"
        subjects = {
            "message": "hello",
            "comment_reply": "comment reply",
            "post_reply": "post reply",
        }
        extra.setdefault("subject", subjects.get(type_, "username mention"))
        extra["type"] = "unknown" if kind == "t4" else type_
        data = inbox_thing(self.state, kind, author, body, **extra)
        self.state.inbox[data["name"]] = data
        return str(data["name"])

    def add_raw_inbox(self, thing: Json, name: str) -> None:
        """Any JSON as an unread inbox child, e.g. a malformed item."""
        self.state.inbox[name] = {
            "_raw": thing,
            "name": name,
            "id": "0",
            "new": True,
            "created_utc": time.time(),
        }

    def add_subreddit(
        self, sub: str, listing_name: str, author: str, text: str, **extra: Any
    ) -> str:
        """listing_name: "comments" (t1, ``text`` = body) or "new" (t3, ``text`` = title)."""
        kind = "t1" if listing_name == "comments" else "t3"
        data = listing_thing(self.state, kind, sub, author, text, **extra)
        self.state.subreddits.setdefault((sub.lower(), listing_name), []).append(data)
        return str(data["name"])

    def unread(self) -> list[str]:
        return [name for name, data in self.state.inbox.items() if data["new"]]

    @property
    def sent(self) -> list[Json]:
        """Every reply the bot posted: thing_id (what it answered), text, name (its fullname)."""
        return self.state.sent

    def calls(self, path: str, method: str | None = None) -> int:
        """How many API requests hit ``path`` (a prefix)."""
        return sum(
            1
            for m, p, _ in self.state.requests
            if p.rstrip("/").startswith(path.rstrip("/")) and (method is None or m == method)
        )

    # -- faults ---------------------------------------------------------------------------------

    def inject(self, kind: str, **options: Any) -> Fault:
        """Queue a fault; see :class:`Fault` for the kinds and options."""
        fault = Fault(kind, **options)
        self.state.faults.append(fault)
        return fault

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused with 401 invalid_token."""
        self.state.tokens.clear()

    def revoke_credentials(self) -> None:
        """The token endpoint refuses our client from now on, and current tokens die."""
        self.state.credentials_valid = False
        self.state.tokens.clear()

    # -- HTTP plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        self.state.requests.append((request.method, request.path, request.query_string))
        if request.method == "POST" and request.path.rstrip("/") != TOKEN_PATH:
            form = await request.post()
            self.state.forms.append((request.path, {k: str(v) for k, v in form.items()}))
        fault = next((f for f in self.state.faults if f.matches(request)), None)
        if fault is not None:
            fault.times -= 1
            early = await self._fault_before(fault)
            if early is not None:
                return early
        is_token = request.path.rstrip("/") == TOKEN_PATH
        if not is_token and not self._authorized(request):
            return web.json_response(
                {"message": "Unauthorized", "error": 401},
                status=401,
                headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
            )
        if not is_token and self._budget_spent():
            self.state.throttled += 1
            response: web.StreamResponse = web.json_response(
                {"message": "Too Many Requests", "error": 429}, status=429
            )
            self._rate_headers(response, count=False)
            response.headers["retry-after"] = response.headers["x-ratelimit-reset"]
            return response
        response = await handler(request)
        if not is_token:
            self._rate_headers(response)
        late = fault is not None and (fault.after or fault.kind == "truncate")
        if fault is not None and late and isinstance(response, web.Response):
            if fault.kind == "slow":
                await fault.pause()
            elif fault.kind == "truncate" and isinstance(response.body, bytes):
                response.body = response.body[: len(response.body) // 2]
        return response

    async def _fault_before(self, fault: Fault) -> web.StreamResponse | None:
        if fault.after or fault.kind == "truncate":
            return None
        if fault.kind == "slow":
            await fault.pause()
        elif fault.kind == "status":
            return web.Response(
                status=fault.status,
                text=fault.body or f'{{"error": {fault.status}}}',
                content_type="application/json",
            )
        elif fault.kind == "body":
            return web.Response(status=200, text=fault.body, content_type="application/json")
        elif fault.kind == "429":
            return web.json_response(
                {"message": "Too Many Requests", "error": 429},
                status=429,
                headers={
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": "600",
                    "x-ratelimit-reset": str(fault.reset),
                    "retry-after": str(fault.reset),
                },
            )
        elif fault.kind == "ratelimit":
            error = ["RATELIMIT", RATELIMIT_TEXT.format(n=fault.reset), "ratelimit"]
            response = web.json_response({"json": {"errors": [error]}})
            self._rate_headers(response)
            return response
        return None

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token in self.state.tokens

    def _elapsed(self) -> float:
        """Seconds into the current rate-limit window (a new one starts when it is over)."""
        st = self.state
        if time.monotonic() - st.window_start >= st.window:
            st.window_start, st.used = time.monotonic(), 0
        return time.monotonic() - st.window_start

    def _budget_spent(self) -> bool:
        self._elapsed()
        return self.state.used >= self.state.budget

    def _rate_headers(self, response: web.StreamResponse, *, count: bool = True) -> None:
        st = self.state
        reset = max(math.ceil(st.window - self._elapsed()), 1)
        st.used += count
        response.headers["x-ratelimit-remaining"] = f"{max(st.budget - st.used, 0)}.0"
        response.headers["x-ratelimit-used"] = str(st.used)
        response.headers["x-ratelimit-reset"] = str(reset)

    # -- Reddit endpoints -------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        st = self.state
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        client = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else ""
        if not st.credentials_valid or client != f"{st.client_id}:{st.client_secret}":
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        grant = form.get("grant_type")
        good = (
            (
                grant == "password"
                and form.get("username") == st.username
                and form.get("password") == st.password
            )
            or (grant == "refresh_token" and form.get("refresh_token") == st.refresh_token)
            or grant == "client_credentials"
        )
        if not good:
            return web.json_response({"error": "invalid_grant"})
        token = secrets.token_urlsafe(16)
        st.tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    async def me(self, request: web.Request) -> web.StreamResponse:
        now = time.time()
        return web.json_response(
            {
                "name": self.state.username,
                "id": "simself",
                "created_utc": now,
                "is_suspended": False,
                "has_mail": bool(self.unread()),
            }
        )

    async def inbox(self, request: web.Request) -> web.StreamResponse:
        which = request.match_info["which"]
        types = _INBOX_TYPES.get(which, set())
        items = [
            d
            for d in self.state.inbox.values()
            if (which != "unread" or d["new"]) and (types is None or d.get("type") in types)
        ]
        body = listing(newest_first(items), request.query)
        if which == "unread" and request.query.get("mark", "true").lower() != "false":
            for item in items:
                item["new"] = False
        return web.json_response(body)

    async def read_message(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        for name in str(form.get("id", "")).split(","):
            if name in self.state.inbox:
                self.state.inbox[name]["new"] = False
        return web.json_response({})

    def _find(self, name: str) -> Json | None:
        if name in self.state.inbox:
            return self.state.inbox[name]
        for items in (*self.state.subreddits.values(), self.state.own_comments):
            for item in items:
                if item["name"] == name:
                    return item
        return None

    async def comment(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        parent_name, text = str(form.get("thing_id", "")), str(form.get("text", ""))
        parent = self._find(parent_name)
        if len(text) > 10_000:
            return _api_error("TOO_LONG", "this is too long (max: 10000)", "text")
        if parent is None or "_raw" in parent:
            return _api_error("DELETED_COMMENT", "that comment has been deleted", "parent")
        if kind_of(parent) == "t4":
            created = our_message(self.state, parent, text)
            self.state.own_messages.append(created)
        else:
            created = our_comment(self.state, parent, text)
            self.state.own_comments.append(created)
        self.state.sent.append({"thing_id": parent_name, "text": text, "name": created["name"]})
        thing = {"kind": kind_of(created), "data": created}
        return web.json_response({"json": {"errors": [], "data": {"things": [thing]}}})

    async def user_comments(self, request: web.Request) -> web.StreamResponse:
        user = request.match_info["user"].lower()
        mine = [c for c in self.state.own_comments if c["author"].lower() == user]
        return web.json_response(listing(newest_first(mine), request.query))

    async def sent_messages(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(listing(newest_first(self.state.own_messages), request.query))

    async def subreddit(self, request: web.Request) -> web.StreamResponse:
        key = (request.match_info["sub"].lower(), request.match_info["listing"])
        items = newest_first(self.state.subreddits.get(key, []))
        return web.json_response(listing(items, request.query))

    # -- control endpoints for a standalone simulator ---------------------------------------------

    async def control(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        body: Json = await request.json() if request.can_read_body else {}
        if action == "inbox":
            type_, author, text = body.pop("type"), body.pop("author"), body.pop("body")
            return web.json_response({"name": self.add_inbox(type_, author, text, **body)})
        if action == "fault":
            self.inject(body.pop("kind"), **body)
        elif action == "expire_tokens":
            self.expire_tokens()
        elif action == "revoke":
            self.revoke_credentials()
        return web.json_response({"ok": True})

    async def control_subreddit(self, request: web.Request) -> web.StreamResponse:
        body: Json = await request.json()
        sub, which = request.match_info["sub"], request.match_info["listing"]
        name = self.add_subreddit(sub, which, body.pop("author"), body.pop("text"), **body)
        return web.json_response({"name": name})

    async def control_get(self, request: web.Request) -> web.StreamResponse:
        what = request.match_info["what"]
        return web.json_response(self.sent if what == "sent" else self.unread())


def _api_error(kind: str, message: str, field: str) -> web.StreamResponse:
    return web.json_response({"json": {"errors": [[kind, message, field]]}})


def _install_routes(app: web.Application, sim: RedditSim) -> None:
    def both(method: str, path: str, handler: Handler) -> None:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, path + "/", handler)

    both("POST", TOKEN_PATH, sim.token)
    both("GET", "/api/v1/me", sim.me)
    both("GET", "/message/sent", sim.sent_messages)
    both("GET", "/message/{which}", sim.inbox)
    both("POST", "/api/read_message", sim.read_message)
    both("POST", "/api/comment", sim.comment)
    both("GET", "/user/{user}/comments", sim.user_comments)
    both("GET", "/r/{sub}/{listing:comments|new}", sim.subreddit)
    app.router.add_post("/_sim/subreddit/{sub}/{listing:comments|new}", sim.control_subreddit)
    app.router.add_post("/_sim/{action}", sim.control)
    app.router.add_get("/_sim/{what:sent|unread}", sim.control_get)


def main() -> None:
    parser = argparse.ArgumentParser(description="loopback Reddit simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username", default="brand_support")
    args = parser.parse_args()

    async def serve() -> None:
        sim = RedditSim(username=args.username)
        port = await sim.start(args.host, args.port)
        print(f"PORT={port}", flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await stop.wait()
        await sim.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
