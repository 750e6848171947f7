"""The read-only dashboard on aiohttp.web: overview, interaction log, ticket history.

Deny by default: one middleware lets through only the login page and the stylesheet without
the token; everything else answers 401 and shows no customer data. Wrong tokens are counted per
client address: too many and that address gets 429 for a while (bot/dashboard/limiter.py).
Every response, errors included, carries the security headers (a CSP without scripts or inline
styles, no framing, no sniffing, no referrer). Customer text reaches the page only through
``esc``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from time import monotonic

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.dashboard import views
from bot.dashboard.auth import COOKIE, PUBLIC_PATHS, Gate, safe_next, without_token
from bot.dashboard.limiter import Clock, FailureLimiter
from bot.dashboard.settings import DashboardSettings
from bot.dashboard.style import CSS
from bot.errors import NotFound, UserInputError
from responders.calendar import BusinessCalendar
from storage.db import Database
from storage.models import now_utc
from storage.report_buckets import Bucket
from storage.report_log import LogQuery, channels, query_log_page, ticket_history
from storage.report_types import ReportQuery
from storage.reports import build_report

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Deps:
    db: Database
    calendar: BusinessCalendar
    settings: DashboardSettings
    gate: Gate
    limiter: FailureLimiter


DEPS = web.AppKey("deps", Deps)


class AccessLog(AbstractAccessLogger):
    """Method, path (never the query: it may hold a token or a search), status, duration."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "dashboard %s %s -> %d (%.0f ms)",
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def _html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _unauthorised(request: web.Request) -> web.Response:
    if "text/html" in request.headers.get("Accept", ""):
        response = _html(views.login_page(safe_next(without_token(request))), status=401)
    else:
        response = web.Response(text="401: a dashboard token is required\n", status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="socialbot"'
    return response


def _locked_out(request: web.Request) -> web.Response | None:
    """429 while the client's address is locked out: the token is not even checked then."""
    wait = request.app[DEPS].limiter.retry_after(request.remote)
    if not wait:
        return None
    return web.Response(
        text=f"429: too many wrong tokens from your address; try again in {wait} s\n",
        status=429,
        headers={"Retry-After": str(wait)},
    )


def _count_failure(request: web.Request) -> None:
    """One more wrong token from this address; logs the lock-out the failure starts, once."""
    locked_for = request.app[DEPS].limiter.failed(request.remote)
    if locked_for:
        log.warning(
            "dashboard: too many wrong tokens from %s; refusing it for %d s",
            request.remote,
            locked_for,
        )


def _check(request: web.Request, candidate: str) -> web.Response | None:
    """None when ``candidate`` is the token; else the 429 or 401 to answer."""
    refusal = _locked_out(request)
    if refusal is not None:
        return refusal
    if request.app[DEPS].gate.token_ok(candidate):
        return None
    _count_failure(request)
    return _unauthorised(request)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    gate = request.app[DEPS].gate
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    link_token = request.query.get("token") if request.method == "GET" else None
    if link_token is None and gate.cookie_ok(request):
        return await _page(request, handler)
    candidate = gate.bearer(request) if link_token is None else link_token
    if not candidate:
        return _unauthorised(request)
    refusal = _check(request, candidate)
    if refusal is not None:
        return refusal
    if link_token is not None:
        response = _see_other(without_token(request))
        gate.set_cookie(response, request)
        return response
    return await _page(request, handler)


async def _page(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NotFound as exc:
        return _html(views.error_page(404, str(exc)), status=404)
    except UserInputError as exc:
        return _html(views.error_page(400, str(exc)), status=400)


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def stylesheet(request: web.Request) -> web.Response:
    response = web.Response(text=CSS, content_type="text/css", charset="utf-8")
    response.headers["Cache-Control"] = "max-age=3600"
    return response


async def login_form(request: web.Request) -> web.Response:
    return _html(views.login_page(safe_next(request.query.get("next"))))


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    gate = request.app[DEPS].gate
    token, target = form.get("token"), safe_next(str(form.get("next") or "/"))
    refusal = _locked_out(request)
    if refusal is not None:
        return refusal
    if not isinstance(token, str) or not gate.token_ok(token):
        log.warning("dashboard: failed sign-in from %s", request.remote)
        if token:
            _count_failure(request)
        return _html(views.login_page(target, "That token is not right."), status=401)
    response = _see_other(target)
    gate.set_cookie(response, request)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = _see_other("/login")
    response.del_cookie(COOKIE, path="/")
    return response


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name) or str(default)
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise UserInputError(f"{name} must be a number from {lo} to {hi}")
    return int(raw)


async def overview(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    days = _int(request, "days", deps.settings.default_days, 1, 366)
    by = request.query.get("by") or "day"
    if by not in ("day", "week"):
        raise UserInputError("by must be day or week")
    bucket: Bucket = "week" if by == "week" else "day"
    end = now_utc()
    channel = request.query.get("channel") or None
    query = ReportQuery(end - timedelta(days=days), end, channel, bucket)
    report = await build_report(deps.db, query, deps.calendar, now=end)
    return _html(views.overview_page(report, days, await channels(deps.db)))


def _day(value: str, deps: Deps, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{value!r} is not a date like 2026-11-01") from None
    return datetime.combine(day + timedelta(days=1 if end else 0), time(0), deps.calendar.zone)


async def interaction_log(request: web.Request) -> web.Response:
    deps, q = request.app[DEPS], request.query
    start, end = q.get("from", ""), q.get("to", "")
    query = LogQuery(
        channel=q.get("channel") or None,
        sentiment=q.get("sentiment") or None,
        start=_day(start, deps),
        end=_day(end, deps, end=True),
        search=(q.get("q") or "").strip()[:200] or None,
        ticket=q.get("ticket") or None,
        page=_int(request, "page", 1, 1, 100_000),
        page_size=deps.settings.page_size,
    )
    page = await query_log_page(deps.db, query)
    return _html(views.log_page(page, query, await channels(deps.db), start, end))


async def ticket(request: web.Request) -> web.Response:
    raw = request.match_info["number"]
    if not raw.isdigit():
        raise NotFound(f"no ticket {raw!r}")
    history = await ticket_history(request.app[DEPS].db, int(raw))
    return _html(views.ticket_page(history))


def make_app(
    db: Database,
    calendar: BusinessCalendar,
    settings: DashboardSettings,
    token: str,
    *,
    clock: Clock = monotonic,
) -> web.Application:
    """The dashboard for one database; ``token`` comes from dashboard_token() (environment).

    ``clock`` (monotonic seconds) times the sign-in lock-outs; tests move it by hand.
    """
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    gate = Gate(token, always_secure=settings.cookie_secure)
    limiter = FailureLimiter(
        settings.login_max_failures, settings.login_window_seconds, clock=clock
    )
    app[DEPS] = Deps(db, calendar, settings, gate, limiter)
    app.on_response_prepare.append(_headers)
    app.router.add_get("/static/style.css", stylesheet)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", overview)
    app.router.add_get("/log", interaction_log)
    app.router.add_get("/tickets/{number}", ticket)
    return app
