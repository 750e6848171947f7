"""The ``sim`` fixture of the X tests: a running simulator whose credentials and address are
in the environment, as the connector's settings name them. Import it into a test module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.sims.x_sim import XSim


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[XSim]:
    async with XSim() as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running
