"""The dashboard through HTTP: token gate, headers, escaping, filters, paging, ticket history."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import parse_config
from bot.dashboard.app import SECURITY_HEADERS, make_app
from bot.dashboard.auth import COOKIE
from bot.dashboard.serve import Dashboard, build_dashboard
from bot.dashboard.settings import TOKEN_ENV, DashboardSettings, dashboard_token
from bot.errors import ConfigError
from responders.calendar import BusinessCalendar, CalendarSettings
from storage.db import Database
from storage.models import Customer, Event, Interaction, Ticket
from storage.report_log import LogQuery, query_log_page

TOKEN = "test-token-0123456789abcdef"
SCRIPT = "<script>alert(1)</script>"
FILLER_DAY = datetime.now(UTC).date() - timedelta(days=2)  # fillers: noon, two days ago
SECRET_TEXTS = ("parcel is late", "still waiting for the refund", "all good now")


async def seed_dashboard(db: Database, fillers: int = 25) -> None:
    """Three customer messages, one reply, two tickets and ``fillers`` neutral messages."""
    now = datetime.now(UTC).replace(microsecond=0)
    filler_noon = datetime.combine(FILLER_DAY, time(12), UTC)
    await db.upgrade()
    async with db.transaction() as s:
        alice = Customer(channel="x", external_id="u1", handle="alice")
        bob = Customer(channel="email", external_id="u2", handle="<b>bob</b>")
        s.add_all([alice, bob])
        await s.flush()
        s.add_all(
            [
                Ticket(
                    id=1,
                    customer_id=alice.id,
                    origin_interaction_id=1,
                    channel="x",
                    thread="t1",
                    label="complaint",
                    topic="delivery",
                    status="open",
                    opened_at=now - timedelta(hours=3),
                ),
                Ticket(
                    id=2,
                    customer_id=alice.id,
                    origin_interaction_id=3,
                    channel="x",
                    thread="t3",
                    label="complaint",
                    topic="refund",
                    status="resolved",
                    opened_at=now - timedelta(hours=2),
                    resolved_at=now,
                ),
            ]
        )
        await s.flush()
        rows: list[dict[str, Any]] = [
            dict(
                id=1,
                channel="x",
                kind="mention",
                customer_id=alice.id,
                ticket_id=1,
                text=f"my parcel is late {SCRIPT}",
                polarity=-0.5,
                label="complaint",
                created_at=now - timedelta(hours=3),
            ),
            dict(
                id=2,
                channel="email",
                kind="email",
                customer_id=bob.id,
                text="thanks, all good now",
                polarity=0.6,
                label="praise",
                created_at=now - timedelta(hours=2, minutes=30),
            ),
            dict(
                id=3,
                channel="x",
                kind="dm",
                customer_id=alice.id,
                ticket_id=2,
                text="still waiting for the refund",
                polarity=-0.3,
                label="complaint",
                created_at=now - timedelta(hours=2),
            ),
            dict(
                id=4,
                channel="x",
                kind="mention",
                ticket_id=1,
                direction="out",
                status="sent",
                text="We have logged this as ticket #1",
                label="ack",
                created_at=now - timedelta(hours=2, minutes=59),
            ),
        ]
        rows += [
            dict(
                id=100 + n,
                channel="discord",
                kind="mention",
                text=f"filler message {n}",
                polarity=0.0,
                label="other",
                created_at=filler_noon - timedelta(minutes=n),
            )
            for n in range(fillers)
        ]
        for row in rows:
            fields = {"direction": "in", "status": "processed"} | row
            s.add(Interaction(external_id=f"e{row['id']}", thread=f"t{row['id']}", **fields))
        await s.flush()
        s.add(Event(actor="bot", type="ticket_opened", ticket_id=1, interaction_id=1))
        s.add(Event(actor="cli:<jess>", type="agent_reply_queued", ticket_id=1))


def calendar() -> BusinessCalendar:
    return BusinessCalendar(CalendarSettings(timezone="UTC", holidays_country=None))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'dash.sqlite3'}")
    try:
        await seed_dashboard(database)
        yield database
    finally:
        await database.close()


@pytest.fixture
async def client(db: Database) -> AsyncIterator[TestClient[Any, Any]]:
    app = make_app(db, calendar(), DashboardSettings(page_size=10), TOKEN)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


BEARER = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html"}


@pytest.mark.parametrize("path", ["/", "/log", "/log?q=parcel", "/tickets/1", "/tickets/2"])
@pytest.mark.parametrize("accept", ["text/html", "*/*"])
async def test_every_page_refuses_without_a_token(
    client: TestClient[Any, Any], path: str, accept: str
) -> None:
    response = await client.get(path, headers={"Accept": accept}, allow_redirects=False)
    body = await response.text()
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="socialbot"'
    assert not any(secret in body for secret in SECRET_TEXTS)
    assert "alice" not in body and "bob" not in body


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Cookie": f"{COOKIE}={TOKEN}"},  # the cookie holds an HMAC, never the token
    ],
)
async def test_wrong_credentials_are_refused(
    client: TestClient[Any, Any], headers: dict[str, str]
) -> None:
    response = await client.get("/log", headers=headers)
    assert response.status == 401
    assert "parcel" not in await response.text()


async def test_security_headers_on_every_kind_of_response(client: TestClient[Any, Any]) -> None:
    responses = [
        await client.get("/"),  # 401
        await client.get("/", headers=BEARER),  # 200
        await client.get("/tickets/999", headers=BEARER),  # 404
        await client.get("/nowhere", headers=BEARER),  # 404 from the router
        await client.get("/log?sentiment=angry", headers=BEARER),  # 400
        await client.get("/static/style.css"),
        await client.get("/login"),
    ]
    assert [r.status for r in responses] == [401, 200, 404, 404, 400, 200, 200]
    for response in responses:
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
            assert response.headers[name] == SECURITY_HEADERS[name]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src" not in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp


async def test_overview_shows_charts_and_numbers_with_a_bearer_token(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/?days=7&by=day", headers=BEARER)
    body = await response.text()
    assert response.status == 200
    assert body.count("<svg") == 4
    assert "<script" not in body.lower()
    assert 'href="/static/style.css"' in body and "style=" not in body  # CSP: no inline styles
    assert re.search(r"messages in</div><div class=\"v\">28<", body)  # 3 customers + 25 fillers
    assert "delivery" in body and "refund" in body  # complaint topics


async def test_login_form_sets_an_httponly_samesite_cookie(client: TestClient[Any, Any]) -> None:
    refused = await client.post("/login", data={"token": "nope", "next": "/log"})
    assert refused.status == 401 and COOKIE not in refused.cookies
    response = await client.post(
        "/login", data={"token": TOKEN, "next": "/log?channel=x"}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/log?channel=x"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie and "Secure" not in cookie  # plain HTTP here (see below)
    page = await client.get("/log?channel=x")  # the client keeps the cookie
    assert page.status == 200 and "still waiting for the refund" in await page.text()
    out = await client.post("/logout", allow_redirects=False)
    assert out.status == 303
    client.session.cookie_jar.clear()
    assert (await client.get("/log")).status == 401


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "\\\\evil", ""])
async def test_login_never_redirects_to_another_site(
    client: TestClient[Any, Any], target: str
) -> None:
    response = await client.post(
        "/login", data={"token": TOKEN, "next": target}, allow_redirects=False
    )
    assert response.headers["Location"] == "/"


async def test_cookie_can_be_marked_secure_behind_a_tls_proxy(db: Database) -> None:
    settings = DashboardSettings(cookie_secure=True)
    async with TestClient(TestServer(make_app(db, calendar(), settings, TOKEN))) as proxied:
        response = await proxied.post("/login", data={"token": TOKEN}, allow_redirects=False)
        assert "Secure" in response.headers["Set-Cookie"]


async def test_a_token_link_is_swapped_for_the_cookie(client: TestClient[Any, Any]) -> None:
    response = await client.get(f"/log?channel=x&token={TOKEN}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/log?channel=x"
    assert COOKIE in response.cookies
    assert (await client.get("/log?channel=x")).status == 200
    assert (await client.get(f"/log?token={TOKEN}x", allow_redirects=False)).status == 401


async def test_customer_text_and_names_are_escaped(client: TestClient[Any, Any]) -> None:
    for path in ("/log", "/tickets/1", "/log?q=%3Cscript"):
        body = await (await client.get(path, headers=BEARER)).text()
        assert SCRIPT not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    log_page = await (await client.get("/log?channel=email", headers=BEARER)).text()
    assert "&lt;b&gt;bob&lt;/b&gt;" in log_page and "<b>bob</b>" not in log_page
    ticket = await (await client.get("/tickets/1", headers=BEARER)).text()
    assert "cli:&lt;jess&gt;" in ticket


def _texts(body: str) -> list[str]:
    return re.findall(r'<span class="text">(.*?)</span>', body)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("channel=email", ["thanks, all good now"]),
        ("sentiment=negative", ["still waiting for the refund", f"my parcel is late {SCRIPT}"]),
        ("sentiment=positive", ["thanks, all good now"]),
        ("q=REFUND", ["still waiting for the refund"]),
        ("q=100%25", []),  # % is a literal, not a wildcard
        ("ticket=resolved", ["still waiting for the refund"]),
        ("ticket=open", ["We have logged this as ticket #1", f"my parcel is late {SCRIPT}"]),
        ("ticket=none&channel=email", ["thanks, all good now"]),
        ("channel=x&sentiment=negative&q=parcel", [f"my parcel is late {SCRIPT}"]),
    ],
)
async def test_log_filters(client: TestClient[Any, Any], query: str, expected: list[str]) -> None:
    body = await (await client.get(f"/log?{query}", headers=BEARER)).text()
    assert [html.unescape(t) for t in _texts(body)] == expected


async def test_log_date_filter_uses_whole_days(client: TestClient[Any, Any]) -> None:
    day = FILLER_DAY
    only = await (await client.get(f"/log?from={day}&to={day}", headers=BEARER)).text()
    texts = _texts(only)
    assert len(texts) == 10 and all(t.startswith("filler") for t in texts)
    assert "older →" in only  # 25 fillers that day, 10 per page
    before = await client.get(f"/log?to={day - timedelta(days=1)}", headers=BEARER)
    assert _texts(await before.text()) == []
    after = await client.get(f"/log?from={day + timedelta(days=1)}", headers=BEARER)
    texts = _texts(await after.text())
    assert len(texts) == 4 and not any(t.startswith("filler") for t in texts)


async def test_log_pages_through_everything_once(client: TestClient[Any, Any]) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = await (await client.get(f"/log?page={page}", headers=BEARER)).text()
        texts = _texts(body)
        assert len(texts) <= 10
        seen += texts
        if "older →" not in body:
            break
        page += 1
    assert page == 3 and len(seen) == 29 == len(set(seen))  # 4 + 25 fillers, 10 per page


async def test_log_label_filter_follows_an_agents_correction(db: Database) -> None:
    """`socialbot log --label`: filtered by the label shown, a person's correction first."""
    async with db.transaction() as s:
        refund = await s.get(Interaction, 3)
        assert refund is not None
        refund.agent_label = "not_complaint"
    complaints = await query_log_page(db, LogQuery(label="complaint"))
    assert [(e.id, e.label) for e in complaints.entries] == [(1, "complaint")]
    corrected = await query_log_page(db, LogQuery(label="not_complaint", channel="x"))
    assert [(e.id, e.label) for e in corrected.entries] == [(3, "not_complaint")]


async def test_log_reads_more_than_a_dashboard_page_for_the_cli(db: Database) -> None:
    """`socialbot log --limit` goes past the dashboard's 200-row cap, newest first."""
    page = await query_log_page(db, LogQuery(page_size=1000))
    assert len(page.entries) == 29 and not page.has_next
    assert [e.id for e in page.entries[:4]] == [3, 2, 4, 1]
    assert [e.created_at for e in page.entries] == sorted(
        (e.created_at for e in page.entries), reverse=True
    )


async def test_ticket_page_shows_its_full_history(client: TestClient[Any, Any]) -> None:
    body = await (await client.get("/tickets/1", headers=BEARER)).text()
    assert "Ticket #1" in body and "ticket_opened" in body and "agent_reply_queued" in body
    assert "We have logged this as ticket #1" in body  # our reply is part of the thread
    assert "alice" in body and "delivery" in body
    missing = await client.get("/tickets/999", headers=BEARER)
    assert missing.status == 404 and "no ticket #999" in await missing.text()
    assert (await client.get("/tickets/abc", headers=BEARER)).status == 404


@pytest.mark.parametrize(
    "query", ["sentiment=angry", "ticket=lost", "page=0", "page=x", "from=yesterday", "days=9999"]
)
async def test_bad_filters_are_a_400_page(client: TestClient[Any, Any], query: str) -> None:
    path = "/" if query.startswith("days") else "/log"
    response = await client.get(f"{path}?{query}", headers=BEARER)
    assert response.status == 400


def test_no_token_no_dashboard() -> None:
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        dashboard_token({})
    with pytest.raises(ConfigError, match="too short"):
        dashboard_token({TOKEN_ENV: "short"})
    assert dashboard_token({TOKEN_ENV: f"  {TOKEN}\n"}) == TOKEN


async def test_daemon_service_only_when_enabled_and_only_with_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.daemon import Daemon

    base = {"bot": {"database_url": f"sqlite:///{tmp_path / 'd.sqlite3'}"}}
    off = Daemon(parse_config(base), connectors=[])
    assert build_dashboard(off) is None
    on_config = parse_config(base | {"dashboard": {"enabled": True, "port": 0}})
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        build_dashboard(Daemon(on_config, connectors=[]))
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    daemon = Daemon(on_config, connectors=[])
    service = build_dashboard(daemon)
    assert service is not None and service.name == "dashboard"
    assert TOKEN not in repr(service)
    await daemon.storage.db.close()
    await off.storage.db.close()


async def test_the_server_listens_on_a_real_port_and_logs_no_query(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    server = Dashboard(db, calendar(), DashboardSettings(), TOKEN, "127.0.0.1", 0)
    await server.start()
    try:
        assert server.bound_port
        base = f"http://127.0.0.1:{server.bound_port}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(f"{base}/log") as refused:
                assert refused.status == 401
            async with http.get(f"{base}/log", headers=BEARER) as ok:
                assert ok.status == 200 and "still waiting" in await ok.text()
            async with http.get(f"{base}/log?q=refund&token={TOKEN}") as linked:
                assert linked.status == 200  # after the redirect, with the cookie
    finally:
        await server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("GET /log -> 401" in line for line in lines)
    assert not any(TOKEN in line or "refund" in line for line in lines)
