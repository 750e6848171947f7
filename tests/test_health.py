"""Health endpoint, Prometheus metrics, and one failing connector never stopping the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bot.daemon import Daemon
from bot.errors import AuthError
from bot.health import HealthService, snapshot
from bot.ingest import AUTH_RETRY_SECONDS
from connectors.base import Inbound
from tests.support.harness import FakeConnector, make_config, message
from tests.support.stub_scorer import StubScorer


class BrokenOnStart(FakeConnector):
    async def connect(self) -> None:
        raise AuthError("401 token expired")

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        raise AssertionError("never reached")
        yield  # pragma: no cover


async def _wait_for(predicate, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_failing_connector_is_down_others_keep_working_and_health_shows_it(
    tmp_path: Path, monkeypatch: object
) -> None:
    assert AUTH_RETRY_SECONDS >= 60  # credentials are retried slowly, not in a busy loop
    config = make_config(tmp_path, health={"enabled": True, "port": 0})
    good, bad = FakeConnector("good"), BrokenOnStart("bad")
    holder: list[HealthService] = []

    def services(daemon: Daemon) -> list[HealthService]:
        holder.append(HealthService(daemon, "127.0.0.1", 0))
        return holder

    daemon = Daemon(config, connectors=[good, bad], scorer=StubScorer(), services=services)
    good.bind(daemon.storage.inbound)
    good.push(message("my parcel is lost", id="g1", channel="good"))
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _wait_for(
            lambda: (
                good.health().messages_out == 1  # counted once the reply is recorded
                and holder[0].bound_port is not None
                and bad.health().state == "down"
            )
        )
        base = f"http://127.0.0.1:{holder[0].bound_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 503
                body = await response.json()
            async with http.get(f"{base}/livez") as response:  # degraded is not dead
                assert response.status == 200 and await response.json() == {"status": "alive"}
            async with http.get(f"{base}/metrics") as response:
                metrics = await response.text()
        states = {c["name"]: c for c in body["connectors"]}
        assert states["good"]["state"] == "ok" and states["good"]["messages_out"] == 1
        assert states["bad"]["state"] == "down" and states["bad"]["token_valid"] is False
        assert "401 token expired" in states["bad"]["last_error"]
        assert 'socialbot_messages_in_total{channel="good"} 1.0' in metrics
        assert 'socialbot_connector_up{channel="bad"} 0.0' in metrics
        assert "socialbot_queue_depth 0.0" in metrics
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def test_health_never_shows_a_secret(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("X_BEARER_TOKEN", "AAAAsupersecretTOKENvalue123")
    config = make_config(tmp_path)

    class Leaky(BrokenOnStart):
        async def connect(self) -> None:
            raise AuthError("refused Bearer AAAAsupersecretTOKENvalue123")

    leaky = Leaky("leaky")
    daemon = Daemon(config, connectors=[leaky], scorer=StubScorer())
    service = HealthService(daemon, "127.0.0.1", 0)
    task = asyncio.create_task(daemon.run(install_signals=False))
    try:
        await _wait_for(lambda: leaky.health().state == "down")
        from bot.health import snapshot

        text = str(await snapshot(daemon))
        assert "AAAAsupersecretTOKENvalue123" not in text and "***" in text
        assert service.name == "health"
    finally:
        daemon.request_stop()
        await asyncio.wait_for(task, 30)


async def test_health_masks_a_customers_address_in_a_connector_error(tmp_path: Path) -> None:
    fake = FakeConnector("email")
    daemon = Daemon(make_config(tmp_path), connectors=[fake], scorer=StubScorer())
    await daemon.storage.db.upgrade()
    fake.health().error("550 5.1.1 <ann.customer@example.org>: Recipient address rejected")
    try:
        body = await snapshot(daemon)
    finally:
        await daemon.storage.db.close()
    error = body["connectors"][0]["last_error"]
    assert "ann.customer" not in error and "a***@example.org" in error
