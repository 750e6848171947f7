"""Config: the example file is valid, and a bad file gets one line naming file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.config import load_config, parse_config
from bot.errors import ConfigError
from bot.registry import build_connector
from tests.support.harness import _NoCursors

REPO = Path(__file__).resolve().parents[1]


def test_example_config_is_valid_including_every_connector_section() -> None:
    raw = tomllib.loads((REPO / "config.example.toml").read_text())
    config = parse_config(raw, "config.example.toml")
    assert config.tickets.first_response_business_hours == 24
    for name, section in config.connectors.items():
        connector = build_connector(name, section, _NoCursors(), config.source)
        assert connector.name == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bot]\nworkers = 0\n", "bot.workers: Input should be greater than or equal to 1"),
        ("[bot]\nwrokers = 2\n", "bot.wrokers: unknown key"),
        ("[routing]\nspam_patterns = ['(']\n", "routing.spam_patterns: Value error"),
        (
            "[routing]\nunsupported_language_to_human = false\n",
            "routing: Value error, unsupported_language_to_human is no longer a [routing] key: "
            "use [triage] unsupported_languages_to_human",
        ),
        (
            "[calendar]\ntimezone = 'Mars/Olympus'\n",
            "calendar.timezone: Value error, unknown time zone",
        ),
        (
            "[replies.templates]\nack = 'hi {nmae}'\n",
            "replies.templates: Value error, template 'ack' uses unknown field",
        ),
        ("[bot\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_bad_connector_section_names_the_connector_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[connectors.demo]\ninterval_seconds = -1\n")
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        build_connector("demo", config.connectors["demo"], _NoCursors(), config.source)
    assert f"{path}: connectors.demo.interval_seconds:" in str(info.value)


def test_unknown_connector_type_lists_installed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no connector type 'myspace' is installed"):
        build_connector("myspace", {}, _NoCursors(), "x.toml")


def test_database_url_from_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALBOT_DATABASE_URL", "postgresql://u:secret@db/prod")
    assert parse_config({}).database_url == "postgresql://u:secret@db/prod"
