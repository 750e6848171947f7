"""Wiring the email connector to the test servers: its config section, env, cursor table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sims.mail_servers.dovecot import Dovecot, MailUser
from tests.sims.mail_servers.smtp_sink import SmtpSink

USER_ENV, PASSWORD_ENV = "SOCIALBOT_TEST_MAIL_USER", "SOCIALBOT_TEST_MAIL_PASSWORD"


class MemoryCursors:
    """The daemon's cursor table in a dict: ``store(item)`` is what a stored message does."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get_cursor(self, channel: str, key: str) -> str | None:
        return self.values.get((channel, key))

    def store(self, item: Any) -> None:
        if item.cursor is not None:
            self.values[(item.channel, item.cursor.key)] = item.cursor.value


def email_section(
    dovecot: Dovecot, sink: SmtpSink | None = None, **overrides: Any
) -> dict[str, Any]:
    """A `[connectors.<name>]` section for these loopback servers (plain text on loopback)."""
    section: dict[str, Any] = {
        "type": "email",
        "address": "support@shop.example",
        "display_name": "Shop Support",
        "imap_host": dovecot.host,
        "imap_port": dovecot.port,
        "imap_tls": "none",
        "imap_username_env": USER_ENV,
        "imap_password_env": PASSWORD_ENV,
        "smtp_host": sink.host if sink else "127.0.0.1",
        "smtp_port": sink.port if sink else 1,
        "smtp_tls": "none",
        "smtp_auth": False,
        "poll_interval": 0.05,
        "timeout": 5,
        "retry_attempts": 4,
        "retry_max_wait": 0.2,
    }
    section.update(overrides)
    return section


@pytest.fixture(name="mail_env")
def mail_env_fixture(monkeypatch: pytest.MonkeyPatch, mail_user: MailUser) -> MailUser:
    """The test user's login in the environment, where the connector reads secrets from."""
    monkeypatch.setenv(USER_ENV, mail_user.name)
    monkeypatch.setenv(PASSWORD_ENV, mail_user.password)
    return mail_user
