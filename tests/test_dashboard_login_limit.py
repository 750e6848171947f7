"""Sign-in throttling: clients on different loopback addresses, a clock moved by hand."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import parse_config
from bot.dashboard.app import make_app
from bot.dashboard.auth import COOKIE
from bot.dashboard.limiter import FailureLimiter, client_key
from bot.dashboard.settings import DashboardSettings
from bot.errors import ConfigError
from storage.db import Database
from tests.test_dashboard_app import SECRET_TEXTS, TOKEN, calendar, seed_dashboard

WRONG = "wrong-guess-0123456789abcdef"
ATTACKER, COLLEAGUE = "127.0.0.2", "127.0.0.3"  # Linux answers on all of 127.0.0.0/8


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Client = Callable[[str], AbstractAsyncContextManager[aiohttp.ClientSession]]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'dash.sqlite3'}")
    try:
        await seed_dashboard(database, fillers=0)
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client_from(db: Database, clock: Clock) -> AsyncIterator[Client]:
    """A factory of HTTP sessions whose connections come from the given loopback address."""
    app = make_app(db, calendar(), DashboardSettings(), TOKEN, clock=clock)
    async with TestServer(app) as server:

        @asynccontextmanager
        async def session(address: str) -> AsyncIterator[aiohttp.ClientSession]:
            connector = aiohttp.TCPConnector(local_addr=(address, 0))
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(
                str(server.make_url("")), connector=connector, cookie_jar=jar
            ) as http:
                yield http

        yield session


async def sign_in(http: aiohttp.ClientSession, token: str) -> aiohttp.ClientResponse:
    async with http.post("/login", data={"token": token}, allow_redirects=False) as response:
        await response.read()
        return response


async def fail_five_times(http: aiohttp.ClientSession) -> None:
    for _ in range(5):
        assert (await sign_in(http, WRONG)).status == 401


async def test_five_wrong_tokens_lock_the_address_out_until_the_window_passes(
    client_from: Client, clock: Clock
) -> None:
    async with client_from(ATTACKER) as http:
        await fail_five_times(http)
        clock.now += 20
        locked = await sign_in(http, TOKEN)  # the right token, but too late
        async with http.post("/login", data={"token": TOKEN}) as again:
            body = await again.text()
        assert locked.status == 429 and again.status == 429
        assert locked.headers["Retry-After"] == "40"  # the first failure leaves the window then
        assert again.headers["Content-Type"].startswith("text/plain")
        assert "try again in 40 s" in body and len(body) < 100
        assert not any(text in body for text in SECRET_TEXTS) and "alice" not in body
        assert COOKIE not in locked.cookies
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with http.get("/log", headers=headers) as bearer:
            assert bearer.status == 429 and "parcel" not in await bearer.text()
        async with http.get(f"/log?token={TOKEN}", allow_redirects=False) as link:
            assert link.status == 429 and COOKIE not in link.cookies
        async with http.get("/login") as form:
            assert form.status == 200  # the form itself is still shown
        clock.now += 39
        assert (await sign_in(http, TOKEN)).status == 429
        clock.now += 1
        assert (await sign_in(http, TOKEN)).status == 303
        async with http.get("/log") as page:
            assert page.status == 200 and "still waiting for the refund" in await page.text()


async def test_wrong_bearer_tokens_and_links_count_too(client_from: Client) -> None:
    async with client_from(ATTACKER) as http:
        for n in range(5):
            if n % 2:
                async with http.get("/", headers={"Authorization": f"Bearer {WRONG}"}) as r:
                    assert r.status == 401
            else:
                async with http.get(f"/?token={WRONG}", allow_redirects=False) as r:
                    assert r.status == 401
        async with http.get("/", headers={"Authorization": f"Bearer {TOKEN}"}) as refused:
            assert refused.status == 429 and refused.headers["Retry-After"] == "60"


async def test_no_token_at_all_is_not_a_guess(client_from: Client) -> None:
    async with client_from(ATTACKER) as http:
        for _ in range(10):
            async with http.get("/log") as page:
                assert page.status == 401
            assert (await sign_in(http, "")).status == 401
        assert (await sign_in(http, TOKEN)).status == 303


async def test_other_addresses_are_not_affected_and_a_success_helps_nobody(
    client_from: Client, clock: Clock
) -> None:
    async with client_from(ATTACKER) as attacker, client_from(COLLEAGUE) as colleague:
        for _ in range(4):
            assert (await sign_in(attacker, WRONG)).status == 401
        await fail_five_times(colleague)
        assert (await sign_in(colleague, TOKEN)).status == 429
        assert (await sign_in(attacker, TOKEN)).status == 303  # its fifth try: not locked
        assert (await sign_in(attacker, WRONG)).status == 401  # the success reset nothing
        assert (await sign_in(attacker, TOKEN)).status == 429
        clock.now += 60
        assert (await sign_in(colleague, TOKEN)).status == 303


async def test_a_signed_in_browser_is_not_locked_out(client_from: Client) -> None:
    async with client_from(COLLEAGUE) as browser:
        assert (await sign_in(browser, TOKEN)).status == 303
        await fail_five_times(browser)  # e.g. everybody behind one proxy, one of them guessing
        assert (await sign_in(browser, TOKEN)).status == 429
        async with browser.get("/log") as page:
            assert page.status == 200  # the cookie is no guess


async def test_the_lock_out_is_logged_once_with_the_address_never_the_token(
    client_from: Client, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client_from(ATTACKER) as http:
        await fail_five_times(http)
        for _ in range(3):
            assert (await sign_in(http, TOKEN)).status == 429
        async with http.get("/", headers={"Authorization": f"Bearer {WRONG}x"}) as r:
            assert r.status == 429
        clock.now += 60
        await fail_five_times(http)  # a second lock-out: logged again, once
    messages = [r.getMessage() for r in caplog.records]
    lockouts = [m for m in messages if "too many wrong tokens" in m]
    expected = f"dashboard: too many wrong tokens from {ATTACKER}; refusing it for 60 s"
    assert lockouts == [expected, expected]
    assert any(ATTACKER in m for m in messages if "failed sign-in" in m)
    assert not any(secret in m for m in messages for secret in (WRONG, TOKEN))


def test_the_address_table_stays_bounded() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, 60, max_addresses=3, clock=clock)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
        assert len(limiter) <= 3
    assert len(limiter) == 3
    assert limiter.failed("10.0.3.229") == 60  # the 997th again: locked, and the most recent
    limiter.failed("192.0.2.1")  # so the 998th, the least recent, goes
    assert limiter.retry_after("10.0.3.229") == 60 and len(limiter) == 3
    assert limiter.failed("10.0.3.230") == 0  # the 998th starts afresh: evicted
    assert limiter.retry_after("10.0.3.230") == 0


def test_failures_expire_and_forget_the_address() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, 60, clock=clock)
    assert limiter.failed("192.0.2.1") == 0
    clock.now += 30
    assert limiter.failed("192.0.2.1") == 0
    clock.now += 30  # the first one has left the window
    assert limiter.failed("192.0.2.1") == 0
    assert limiter.retry_after("192.0.2.1") == 0
    assert limiter.failed("192.0.2.1") == 30  # the oldest of the three is 30 s old
    assert limiter.failed("192.0.2.1") == 0  # counted once per lock-out
    clock.now += 60
    assert limiter.retry_after("192.0.2.1") == 0 and len(limiter) == 0


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::7")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1") == "192.0.2.1"
    assert client_key(None) == "unknown" and client_key("some-socket") == "some-socket"


@pytest.mark.parametrize(
    "section", [{"login_max_failures": 0}, {"login_window_seconds": 0}, {"login_retries": 3}]
)
def test_bad_limits_are_refused_by_name(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=f"dashboard.{next(iter(section))}"):
        parse_config({"dashboard": section})
    assert parse_config({}).dashboard.login_max_failures == 5
