"""The dashboard in a real headless browser (Debian's chromium): it renders, and it keeps quiet.

Skipped when chromium is missing, except under CI=true (.ci/install-chromium.sh installs it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.dashboard.serve import Dashboard
from bot.dashboard.settings import DashboardSettings
from storage.db import Database
from tests.support.services import need_binary
from tests.test_dashboard_app import SCRIPT, SECRET_TEXTS, TOKEN, calendar, seed_dashboard

WIDTH, HEIGHT = 1280, 900
HEADER_NAVY = (16, 42, 67)  # #102a43, the top bar
NEGATIVE_RED = (214, 69, 69)  # #d64545, the sentiment-split bars
CHANNEL_BLUE = (47, 111, 237)  # #2f6fed, the first channel's line and bars


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    db = Database(f"sqlite:///{tmp_path / 'browser.sqlite3'}")
    dashboard = Dashboard(db, calendar(), DashboardSettings(), TOKEN, "127.0.0.1", 0)
    try:
        await seed_dashboard(db)
        await dashboard.start()
        yield f"http://127.0.0.1:{dashboard.bound_port}"
    finally:
        await dashboard.stop()
        await db.close()


async def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless chromium to completion (asynchronously: the server shares this loop)."""
    binary = need_binary("chromium", "Debian's chromium (apt-get install chromium)")
    profile = tmp_path / f"profile-{uuid.uuid4().hex}"
    process = await asyncio.create_subprocess_exec(
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(errors="replace")


async def test_overview_screenshot_shows_the_charts(server: str, tmp_path: Path) -> None:
    shot = tmp_path / "overview.png"
    await chromium(tmp_path, f"--screenshot={shot}", f"{server}/?days=7&token={TOKEN}")
    assert shot.exists()
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colours is not None
    counts = {colour: n for n, colour in colours}
    assert len(counts) > 200  # text, charts, borders: not a blank page
    background = max(counts.values())
    assert background < 0.9 * WIDTH * HEIGHT
    assert counts.get(HEADER_NAVY, 0) > 20_000  # the header bar rendered with the stylesheet
    assert counts.get(CHANNEL_BLUE, 0) > 500  # the charts rendered (SVG, no script)
    assert counts.get(NEGATIVE_RED, 0) > 500


async def test_log_dom_shows_the_seeded_messages_escaped(server: str, tmp_path: Path) -> None:
    dom = await chromium(tmp_path, "--dump-dom", f"{server}/log?token={TOKEN}")
    assert "Interaction log" in dom
    assert all(text in dom for text in SECRET_TEXTS)
    assert SCRIPT not in dom  # shown as text, never parsed as an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


async def test_without_the_token_the_browser_gets_no_customer_data(
    server: str, tmp_path: Path
) -> None:
    for path in ("/", "/log", "/tickets/1"):
        dom = await chromium(tmp_path, "--dump-dom", f"{server}{path}")
        assert "Sign in" in dom
        assert not any(text in dom for text in SECRET_TEXTS)
        assert "alice" not in dom
