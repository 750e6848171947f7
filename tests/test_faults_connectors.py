"""Connector faults seen from the whole daemon: one platform fails, the others keep flowing.

The X connector runs for real (tweepy) against the loopback X simulator; a second,
in-memory platform must keep being answered while X answers 429s, 5xx or refuses our token.
Each test then lifts the fault and checks that X recovers by itself (tenacity backoff in the
connector and in the daemon's ingest), that what arrived meanwhile is read, stored and
acknowledged exactly once, and that /healthz, /metrics and `socialbot status` showed it.
Per-connector fault tests (pagination, timeouts, truncated answers, reconnects...) live in
tests/test_x_faults.py, tests/test_reddit_faults.py, tests/test_discord_errors.py and
tests/test_email_*.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tenacity import wait_fixed
from typer.testing import CliRunner

import bot.ingest
from bot.cli import app
from bot.daemon import Daemon
from bot.errors import TransientError
from bot.health import HealthService
from connectors.base import ConnectorContext
from connectors.x import XConnector
from storage.models import Interaction
from tests.sims.x_fixture import sim
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import FAST
from tests.support.harness import FakeConnector, count_rows, make_config, message
from tests.support.stub_scorer import StubScorer

__all__ = ["sim"]  # the fixture, re-exported for pytest

FOREVER = 10**9  # a fault that lasts until the test clears it


class _NoCursors:
    async def get_cursor(self, channel: str, key: str) -> str | None:
        return None


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter waits between the daemon's reconnects (production: 1-300 s, 300 s for auth)."""
    monkeypatch.setattr(bot.ingest, "_exponential", wait_fixed(0.05))
    monkeypatch.setattr(bot.ingest, "AUTH_RETRY_SECONDS", 0.2)


class Stack:
    """A daemon with an X connector on the simulator, an in-memory platform and /healthz."""

    def __init__(self, tmp_path: Path, sim: XSim, other: FakeConnector | None = None) -> None:
        self.config = make_config(tmp_path)
        section = {"api_base_url": sim.base_url, "user_id": sim.state.our_id, **FAST}
        settings = XConnector.settings_model.model_validate(section)
        self.x = XConnector(settings, ConnectorContext("x", _NoCursors()))
        self.other = other or FakeConnector("other")
        self.service: HealthService | None = None
        self.daemon = Daemon(
            self.config,
            connectors=[self.x, self.other],
            scorer=StubScorer(),
            services=self._services,
        )
        self.x.ctx = ConnectorContext("x", self.daemon.storage.inbound)
        self.other.bind(self.daemon.storage.inbound)

    def _services(self, daemon: Daemon) -> list[HealthService]:
        self.service = HealthService(daemon, "127.0.0.1", 0)
        return [self.service]

    @property
    def port(self) -> int | None:
        return self.service.bound_port if self.service else None

    async def healthz(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}"
        async with aiohttp.ClientSession(url) as http, http.get("/healthz") as answer:
            body: dict[str, Any] = await answer.json()
            body["http_status"] = answer.status
            return body

    async def metrics(self) -> dict[str, float]:
        url = f"http://127.0.0.1:{self.port}"
        async with aiohttp.ClientSession(url) as http, http.get("/metrics") as answer:
            text = await answer.text()
        found = re.findall(r'^(socialbot_\w+)\{channel="x"\} (\S+)$', text, re.M)
        return {name: float(value) for name, value in found}

    def status_cli(self, tmp_path: Path) -> str:
        """`socialbot status` against the running daemon (run in a thread: it blocks)."""
        config = tmp_path / "status.toml"
        config.write_text(
            f'[bot]\ndatabase_url = "{self.config.database_url}"\n'
            f"[health]\nenabled = true\nport = {self.port}\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(app, ["status", "--config", str(config)], terminal_width=200)
        assert result.exit_code == 0, result.output
        return result.output


async def wait_for(predicate: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(stack: Stack) -> AsyncIterator[None]:
    task = asyncio.create_task(stack.daemon.run(install_signals=False))
    try:
        await wait_for(lambda: stack.port is not None)
        yield
    finally:
        stack.daemon.request_stop()
        await asyncio.wait_for(task, 60)


def answered(sim: XSim) -> Counter[str]:
    """Replies on the simulated X per answered tweet id (DMs: per conversation)."""
    return Counter(
        str(s.get("in_reply_to_tweet_id") or s.get("dm_conversation_id")) for s in sim.sent
    )


async def test_429_storm_and_5xx_burst_on_x_while_the_other_platform_flows(
    tmp_path: Path, sim: XSim, quick_retries: None
) -> None:
    stack = Stack(tmp_path, sim)
    first = sim.state.add_mention("alice", "my order never arrived")
    async with running(stack):
        await wait_for(lambda: answered(sim)[first.id] == 1 and stack.x.health().state == "ok")
        before = await stack.metrics()
        sim.inject("/2/users/*/mentions", status=429, times=FOREVER, reset_in=0.2)
        sim.inject("/2/dm_events", status=503, times=FOREVER)
        late = [
            sim.state.add_mention(f"user{n}", f"refund please, parcel {n} lost") for n in range(3)
        ]
        dm = sim.state.add_dm("dora", "my card was charged twice, broken checkout")
        stack.other.push(
            *[message(f"app broken {n}", id=f"o{n}", author=f"o{n}") for n in range(3)]
        )

        await wait_for(lambda: len(stack.other.sent) == 3)  # the other platform flows
        await wait_for(
            lambda: stack.x.health().rate_limit_waits > before["socialbot_rate_limit_waits_total"]
        )
        during = await stack.metrics()
        health = await stack.healthz()
        status = await asyncio.to_thread(stack.status_cli, tmp_path)
        assert await count_rows(stack.config, Interaction, channel="x", direction="in") == 1
        sim.faults.clear()
        await wait_for(lambda: stack.x.health().messages_out == 5)  # posted and recorded
        await wait_for(lambda: stack.x.health().state == "ok")
        after = await stack.metrics()

    states = {c["name"]: c for c in health["connectors"]}
    assert health["http_status"] == 503 and health["status"] == "degraded"
    assert states["x"]["state"] == "degraded" and states["other"]["state"] == "ok"
    assert during["socialbot_connector_up"] == 0.0 and after["socialbot_connector_up"] == 1.0
    assert during["socialbot_connector_errors_total"] > before["socialbot_connector_errors_total"]
    # (the table wraps at 80 columns: "degraded" may be cut in two)
    assert re.search(r"│ x +│ degrade", status) and re.search(r"│ other +│ ok ", status)
    # Everything that arrived during the storm was read once and answered once.
    assert answered(sim) == Counter({t.id: 1 for t in [first, *late]} | {dm.conversation_id: 1})
    assert await count_rows(stack.config, Interaction, channel="x", direction="in") == 5
    assert after["socialbot_messages_out_total"] == 5


async def test_x_with_a_refused_token_recovers_by_itself_and_backfills(
    tmp_path: Path, sim: XSim, quick_retries: None
) -> None:
    sim.token_valid = False  # expired / revoked while the daemon was down
    waiting = sim.state.add_mention("erin", "the app is broken since the update")
    stack = Stack(tmp_path, sim)
    async with running(stack):
        stack.other.push(message("my parcel is lost", id="o1", author="olga"))
        await wait_for(lambda: stack.x.health().state == "down" and len(stack.other.sent) == 1)
        health = await stack.healthz()
        sim.token_valid = True  # the operator rotated the token
        await wait_for(lambda: answered(sim)[waiting.id] == 1 and stack.x.health().state == "ok")
        recovered = await stack.healthz()
    x_down = next(c for c in health["connectors"] if c["name"] == "x")
    assert x_down["token_valid"] is False and "credentials refused" in x_down["last_error"]
    assert next(c for c in recovered["connectors"] if c["name"] == "x")["token_valid"] is True
    assert recovered["status"] == "ok"
    assert len(sim.sent) == 1 and [r.in_reply_to for r in stack.other.sent] == ["o1"]


class RefusesToStart(FakeConnector):
    """A platform that cannot be reached at start (DNS, TLS, 5xx) until ``broken`` clears."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.broken = True
        self.attempts = 0

    async def connect(self) -> None:
        self.attempts += 1
        if self.broken:
            raise TransientError("connection refused")
        await super().connect()


async def test_a_connector_that_raises_on_start_recovers_when_the_fault_clears(
    tmp_path: Path, sim: XSim, quick_retries: None
) -> None:
    flaky = RefusesToStart("flaky")
    stack = Stack(tmp_path, sim, other=flaky)
    flaky.push(message("order 66 never came", id="f1", author="fay"))
    mention = sim.state.add_mention("gus", "the checkout is broken")
    async with running(stack):
        await wait_for(lambda: flaky.attempts >= 3 and answered(sim)[mention.id] == 1)
        health = await stack.healthz()
        assert flaky.sent == []  # nothing read while it cannot connect
        flaky.broken = False
        await wait_for(lambda: len(flaky.sent) == 1 and flaky.health().state == "ok")
    state = next(c for c in health["connectors"] if c["name"] == "flaky")
    assert state["state"] == "degraded" and "connection refused" in state["last_error"]
    assert state["errors"] >= 2  # each failed start counted, backed off, tried again
    assert [r.in_reply_to for r in flaky.sent] == ["f1"]
    assert stack.daemon.stats.connector_errors["flaky"] >= 2
    assert await count_rows(stack.config, Interaction, channel="flaky", direction="in") == 1
