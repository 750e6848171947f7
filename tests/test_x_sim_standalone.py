"""The X simulator as a separate process, the way a crash test drives it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from connectors.base import ConnectorContext, Outbound
from connectors.x import XConnector
from tests.sims.x_sim import CREDENTIALS, OUR_ID
from tests.sims.x_testkit import FAST, Store, drain

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def sim_url(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sims.x_sim", cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        assert line.startswith("PORT="), line
        yield f"http://127.0.0.1:{int(line.strip().split('=')[1])}"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0  # clean SIGTERM exit


async def test_control_endpoints_drive_a_full_exchange(sim_url: str) -> None:
    async with aiohttp.ClientSession(sim_url) as http:
        added = await (
            await http.post("/_sim/mentions", json={"author": "zoe", "text": "hello?"})
        ).json()
        await http.post("/_sim/dms", json={"items": [{"sender": "yan", "text": "hi"}]})
        await http.post("/_sim/faults", json={"path": "/2/users/*/mentions", "status": 503})
        store = Store()
        settings = XConnector.settings_model.model_validate(
            {"api_base_url": sim_url, "user_id": OUR_ID, **FAST}
        )
        connector = XConnector(settings, ConnectorContext("x", store))
        await connector.connect()

        got = {i.kind.value: i for i in await drain(connector, store)}
        reply = Outbound(
            channel="x",
            kind=got["mention"].kind,
            thread=got["mention"].thread,
            text="On it",
            in_reply_to=got["mention"].external_id,
            recipient_id=None,
            idempotency_key="k1",
        )
        await connector.send(reply)
        sent = (await (await http.get("/_sim/sent")).json())["sent"]
        requests = (await (await http.get("/_sim/requests")).json())["requests"]

    assert got["mention"].external_id == added["ids"][0] and got["dm"].author.handle == "yan"
    assert [(s["type"], s["in_reply_to_tweet_id"]) for s in sent] == [("tweet", added["ids"][0])]
    assert ["GET", "/2/users/" + OUR_ID + "/mentions", 503] in requests
