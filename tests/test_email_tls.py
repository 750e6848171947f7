"""TLS modes and logins: IMAPS and STARTTLS against dovecot, STARTTLS or SSL + AUTH to the sink."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.base import ConnectorContext, Kind, Outbound
from connectors.email import EmailConnector, EmailSettings
from tests.sims.mail_servers import (
    DOVECOT,
    PASSWORD_ENV,
    USER_ENV,
    Dovecot,
    MailUser,
    MemoryCursors,
    SmtpSink,
    TlsFiles,
    email_section,
    make_tls,
)
from tests.support.services import need_binary

MAIL = Path(__file__).parent / "data" / "mail"
SMTP_USER_ENV, SMTP_PASSWORD_ENV = "SOCIALBOT_TEST_SMTP_USER", "SOCIALBOT_TEST_SMTP_PASSWORD"
pytestmark = pytest.mark.service("dovecot")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_dovecot(tls: TlsFiles) -> Iterator[Dovecot]:
    server = Dovecot(need_binary(DOVECOT, "dovecot IMAP server"), tls=tls)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def user(tls_dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> MailUser:
    found = tls_dovecot.add_user()
    monkeypatch.setenv(USER_ENV, found.name)
    monkeypatch.setenv(PASSWORD_ENV, found.password)
    monkeypatch.setenv(SMTP_USER_ENV, "agent-smtp")
    monkeypatch.setenv(SMTP_PASSWORD_ENV, "smtp-pass-123")
    return found


def make(dovecot: Dovecot, **overrides: Any) -> EmailConnector:
    settings = EmailSettings.model_validate(email_section(dovecot, **overrides))
    return EmailConnector(settings, ConnectorContext("support-mail", MemoryCursors()))


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
async def test_imap_over_tls_with_a_private_ca(
    tls_dovecot: Dovecot, user: MailUser, tls: TlsFiles, mode: str
) -> None:
    tls_dovecot.append(user, (MAIL / "iso_8859_1.eml").read_bytes())
    port = tls_dovecot.imaps_port if mode == "ssl" else tls_dovecot.port
    conn = make(tls_dovecot, imap_tls=mode, imap_port=port, tls_ca_file=str(tls.cert))
    items = [item async for item in conn.listen(follow=False)]
    await conn.close()
    assert [item.external_id for item in items] == ["<latin1-0001@example.fr>"]


async def test_untrusted_certificate_is_refused_not_retried(
    tls_dovecot: Dovecot, user: MailUser
) -> None:
    conn = make(tls_dovecot, imap_tls="ssl", imap_port=tls_dovecot.imaps_port)
    with pytest.raises(ConnectorError, match="not trusted") as caught:
        await conn.connect()
    await conn.close()
    assert not isinstance(caught.value, TransientError)


def ack(text: str = "Thanks, we are on it.") -> Outbound:
    return Outbound(
        channel="support-mail", kind=Kind.EMAIL, thread="<t@example.com>", text=text,
        in_reply_to="<t@example.com>", recipient_id="ann@example.org",
        idempotency_key="socialbot-outbox-1", meta={"subject": "Help", "purpose": "ack"},
    )  # fmt: skip


@pytest.mark.parametrize(
    "implicit",
    [
        pytest.param(False, id="starttls"),
        pytest.param(
            True,
            id="ssl",
            marks=pytest.mark.filterwarnings(
                "ignore:Requiring AUTH while not requiring TLS:UserWarning"
            ),
        ),
    ],
)
async def test_smtp_over_tls_with_login(
    tls_dovecot: Dovecot, user: MailUser, tls: TlsFiles, implicit: bool
) -> None:
    sink = SmtpSink(tls=tls, implicit_tls=implicit, password="smtp-pass-123")
    sink.start()
    try:
        conn = make(
            tls_dovecot, smtp_host="127.0.0.1", smtp_port=sink.port,
            smtp_tls="ssl" if implicit else "starttls", smtp_auth=True,
            smtp_username_env=SMTP_USER_ENV, smtp_password_env=SMTP_PASSWORD_ENV,
            tls_ca_file=str(tls.cert),
        )  # fmt: skip
        await conn.send(ack())
        await conn.close()
    finally:
        sink.stop()
    assert sink.handler.logins == ["agent-smtp"]
    assert [r.rcpt_tos for r in sink.received] == [["ann@example.org"]]


async def test_smtp_wrong_password_is_an_auth_error(
    tls_dovecot: Dovecot, user: MailUser, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SMTP_PASSWORD_ENV, "not-the-password")
    sink = SmtpSink(tls=tls, password="smtp-pass-123")
    sink.start()
    try:
        conn = make(
            tls_dovecot, smtp_host="127.0.0.1", smtp_port=sink.port, smtp_tls="starttls",
            smtp_auth=True, smtp_username_env=SMTP_USER_ENV, smtp_password_env=SMTP_PASSWORD_ENV,
            tls_ca_file=str(tls.cert),
        )  # fmt: skip
        with pytest.raises(AuthError, match="SMTP login") as caught:
            await conn.send(ack())
        health = conn.health()
        assert health.state == "down" and health.token_valid is False
        await conn.close()
    finally:
        sink.stop()
    assert "not-the-password" not in str(caught.value)
    assert sink.received == []
