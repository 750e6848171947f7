"""Log output: a cancelled connection reset at shutdown is one line, not a crash-like traceback."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import pytest

from tests.support.logs import daemon_log

POOL = "sqlalchemy.pool.impl.AsyncAdaptedQueuePool"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    with daemon_log() as stream:
        yield stream


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # the point is to capture it
        return caught


def test_cancelled_pool_reset_is_one_info_line(output: io.StringIO) -> None:
    # What SQLAlchemy logs when SIGTERM cancels a task that is returning its connection
    # (seen once in CI in tests/test_cli.py::test_sigterm_drains_and_exits_cleanly).
    exc = _raised(asyncio.CancelledError())
    logging.getLogger(POOL).error(
        "Exception during reset or similar", exc_info=(type(exc), exc, exc.__traceback__)
    )
    text = output.getvalue()
    assert "Traceback" not in text and "ERROR" not in text
    assert "INFO" in text and "connection was discarded" in text


def test_other_pool_errors_keep_their_traceback(output: io.StringIO) -> None:
    exc = _raised(RuntimeError("disk I/O error"))
    logging.getLogger(POOL).error(
        "Exception during reset or similar", exc_info=(type(exc), exc, exc.__traceback__)
    )
    text = output.getvalue()
    assert "ERROR" in text and "Traceback" in text and "disk I/O error" in text
