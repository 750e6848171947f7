"""Who may see the dashboard: whoever holds the token (bearer header, login cookie or link).

The cookie does not carry the token itself but an HMAC of it, so a leaked cookie is not the
token; changing SOCIALBOT_DASHBOARD_TOKEN logs everybody out. Every comparison is constant
time. A ``?token=`` link is exchanged at once for the cookie and a redirect to the same page
without it, so the token does not stay in the address bar, the history or a Referer.
Guesses are throttled per client address (bot/dashboard/limiter.py); a valid cookie is no
guess, so a signed-in browser is never locked out by somebody else's failures.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from aiohttp import web

COOKIE = "socialbot_dashboard"
COOKIE_MAX_AGE = 12 * 3600
PUBLIC_PATHS = frozenset({"/login", "/static/style.css"})


class Gate:
    def __init__(self, token: str, *, always_secure: bool = False) -> None:
        self._token = token.encode()
        self._always_secure = always_secure
        self._session = hmac.new(self._token, b"socialbot-dashboard-session-v1", hashlib.sha256)

    def __repr__(self) -> str:
        return "Gate(token=***)"

    def token_ok(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self._token)

    def session_value(self) -> str:
        return self._session.hexdigest()

    def cookie_ok(self, request: web.Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session_value().encode())

    @staticmethod
    def bearer(request: web.Request) -> str:
        """The token of an ``Authorization: Bearer`` header; empty without one."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else ""

    def set_cookie(self, response: web.StreamResponse, request: web.Request) -> None:
        response.set_cookie(
            COOKIE,
            self.session_value(),
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure or self._always_secure,
        )


def without_token(request: web.Request) -> str:
    """The requested path and query, minus the ``token`` parameter."""
    rest = [(k, v) for k, v in request.query.items() if k != "token"]
    return request.path + (f"?{urlencode(rest)}" if rest else "")


def safe_next(value: str | None) -> str:
    """Only local paths: never an open redirect to another site after logging in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
