"""Secrets never reach a log line, a traceback, a repr or a config error."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.logs import setup_logging
from bot.registry import build_connector
from tests.support.harness import _NoCursors

REPO = Path(__file__).resolve().parents[1]
TOKENS = {
    "X_BEARER_TOKEN": "AAAAtest-bearer-0123456789",
    "X_CONSUMER_SECRET": "consumer-secret-0123456789",
    "REDDIT_CLIENT_SECRET": "reddit-secret-0123456789",
    "DISCORD_BOT_TOKEN": "discord-token-0123456789",
    "SOCIALBOT_EMAIL_PASSWORD": "mail-password-0123456789",
    "SOCIALBOT_DASHBOARD_TOKEN": "dashboard-token-0123456789",
}


@pytest.fixture
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    return TOKENS


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_lines_and_tracebacks_mask_secrets(
    secrets_in_env: dict[str, str], capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("INFO", fmt)
        log = logging.getLogger("test.secrets")
        log.info("calling with token %s", TOKENS["X_BEARER_TOKEN"])
        try:
            raise RuntimeError(f"401 for {TOKENS['DISCORD_BOT_TOKEN']}")
        except RuntimeError:
            log.exception("connector failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "connector failed" in err and "***" in err
    for value in TOKENS.values():
        assert value not in err


def test_connector_reprs_hold_no_secret(secrets_in_env: dict[str, str]) -> None:
    raw = tomllib.loads((REPO / "config.example.toml").read_text())
    config = parse_config(raw, "config.example.toml")
    for name, section in config.connectors.items():
        connector = build_connector(name, section, _NoCursors(), config.source)
        shown = repr(connector) + repr(connector.settings) + str(vars(connector.settings))
        for value in TOKENS.values():
            assert value not in shown, name


def test_config_error_does_not_echo_a_secret_value() -> None:
    with pytest.raises(Exception) as info:
        parse_config({"bot": {"workers": "hunter2-secret-value"}}, "c.toml")
    assert "hunter2-secret-value" not in str(info.value)
