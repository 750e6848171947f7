"""The Reddit simulator standalone (`python -m tests.sims.reddit_sim`), as a crash test runs it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.base import ConnectorContext, Outbound
from connectors.reddit import RedditConnector
from tests.sims.reddit_testkit import MemoryCursors, drain, reddit_env, settings_at

__all__ = ["reddit_env"]  # fixtures

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
async def standalone() -> AsyncIterator[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.sims.reddit_sim",
        "--port",
        "0",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()
    assert line.startswith("PORT="), line
    try:
        yield f"http://127.0.0.1:{int(line.removeprefix('PORT='))}"
    finally:
        process.terminate()
        await process.wait()


async def control(url: str, method: str, path: str, payload: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}/_sim/{path}", json=payload) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.mark.usefixtures("reddit_env")
async def test_standalone_simulator_is_driven_through_control_endpoints(standalone: str) -> None:
    added = await control(
        standalone, "POST", "inbox", {"type": "message", "author": "bob", "body": "hi"}
    )
    await control(
        standalone, "POST", "fault", {"kind": "status", "status": 503, "path": "/message"}
    )
    connector = RedditConnector(
        settings_at(standalone), ConnectorContext("reddit", MemoryCursors())
    )
    await connector.connect()

    [item] = await drain(connector)
    await connector.send(
        Outbound("reddit", item.kind, item.thread, "Hello Bob", item.external_id, None, "k")
    )

    assert item.external_id == added["name"] and item.author.handle == "bob"
    assert await control(standalone, "GET", "unread") == []
    sent = await control(standalone, "GET", "sent")
    assert [(s["thing_id"], s["text"]) for s in sent] == [(added["name"], "Hello Bob")]
    await connector.close()
