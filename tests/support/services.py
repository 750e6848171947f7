"""Skip a test when a service it needs is absent — except under CI=true, where it must run."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(available: bool, reason: str) -> None:
    """Skip with ``reason`` when ``available`` is false; under CI fail loudly instead."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required service missing under CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def need_tcp(host: str, port: int, what: str) -> None:
    need(tcp_open(host, port), f"{what} is not listening on {host}:{port}")


def need_binary(path_or_name: str, what: str) -> str:
    found = shutil.which(path_or_name) or (path_or_name if os.path.exists(path_or_name) else None)
    need(found is not None, f"{what} ({path_or_name}) is not installed")
    assert found is not None
    return found
