"""Read what the daemon logs: its own handler (as `socialbot run` installs it) into a buffer,
and the WARNING lines of a capture that say something."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot.logs import setup_logging


@contextmanager
def daemon_log(fmt: str = "text") -> Iterator[io.StringIO]:
    """The daemon's logging set up with ``fmt``, writing into the yielded buffer; the root
    logger's handlers and level are restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    setup_logging("INFO", fmt)
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def warnings_saying(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    """The WARNING messages captured so far that contain ``words``."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and words in r.getMessage()
    ]
