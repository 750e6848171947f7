"""The `[connectors.<name>]` section of the email connector: validation, defaults, secrets."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.errors import AuthError
from connectors.base import ConnectorContext
from connectors.email import EmailConnector, EmailSettings
from tests.sims.mail_servers import MemoryCursors

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "connectors" / "email.example.toml"
BASE = {"address": "Support@Shop.Example", "imap_host": "imap.shop.example",
        "smtp_host": "smtp.shop.example"}  # fmt: skip


def settings(**changes: Any) -> EmailSettings:
    return EmailSettings.model_validate({**BASE, **changes})


def test_defaults_are_the_secure_ports() -> None:
    s = settings()
    assert (s.imap_tls, s.imap_port_effective) == ("ssl", 993)
    assert (s.smtp_tls, s.smtp_port_effective) == ("starttls", 587)
    assert settings(smtp_tls="ssl").smtp_port_effective == 465
    assert settings(imap_tls="starttls").imap_port_effective == 143
    assert s.address == "support@shop.example"  # compared case-insensitively


def test_the_documented_example_section_is_valid() -> None:
    section = tomllib.loads(EXAMPLE.read_text())["connectors"]["support-mail"]
    parsed = EmailSettings.model_validate(section)
    assert parsed.type == "email"
    documented = {line.split("=")[0].strip("# ").strip()
                  for line in EXAMPLE.read_text().splitlines() if "=" in line}  # fmt: skip
    assert set(EmailSettings.model_fields) <= documented  # every key is documented


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"imap_pasword_env": "X"}, "imap_pasword_env"),  # typo: extra keys are errors
        ({"imap_tls": "none"}, "only allowed for localhost"),
        ({"smtp_tls": "tls"}, "smtp_tls"),
        ({"address": "Support <support@shop.example>"}, "bare e-mail address"),
        ({"imap_password_env": "hunter2 is my password"}, "environment variable name"),
        ({"poll_interval": 0}, "poll_interval"),
    ],
)
def test_bad_sections_are_refused_with_the_key_named(
    changes: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        settings(**changes)


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        settings().mailbox = "Other"  # type: ignore[misc]


def test_credentials_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_U", "support@shop.example")
    monkeypatch.setenv("MAIL_P", "app-password-123")
    s = settings(imap_username_env="MAIL_U", imap_password_env="MAIL_P")
    user, password = s.imap_credentials()
    assert user == "support@shop.example" and password.get_secret_value() == "app-password-123"
    assert "app-password-123" not in repr(s) + str(s) + repr(password)
    assert s.smtp_credentials() is not None  # SMTP falls back to the IMAP variables
    assert settings(smtp_auth=False).smtp_credentials() is None
    conn = EmailConnector(s, ConnectorContext("support-mail", MemoryCursors()))
    assert repr(conn) == "<EmailConnector 'support-mail'>"


def test_missing_variables_are_named_in_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_USER", raising=False)
    monkeypatch.delenv("NOPE_PASS", raising=False)
    with pytest.raises(AuthError, match="NOPE_USER, NOPE_PASS"):
        settings(imap_username_env="NOPE_USER", imap_password_env="NOPE_PASS").imap_credentials()


def test_entry_point_loads_the_connector() -> None:
    (found,) = [ep for ep in entry_points(group="socialbot.connectors") if ep.name == "email"]
    cls = found.load()
    assert cls is EmailConnector and cls.settings_model is EmailSettings
    assert cls.max_length == 20_000
