"""Customers' e-mail addresses never reach the daemon's log output (text or JSON), tracebacks
included: the log handler keeps the first character of the local part and the domain."""

from __future__ import annotations

import io
import logging
import smtplib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import ConnectorContext, Cursor, Inbound
from connectors.email import EmailConnector, EmailSettings
from connectors.email.inbound import to_inbound
from connectors.email.types import FetchedMessage
from storage.db import Database
from storage.models import OutboxMessage
from tests.sims.mail_servers import (
    MemoryCursors,
    SmtpSink,
    smtp_sink_fixture,  # noqa: F401 - pytest fixture
)
from tests.support.harness import make_config, run_once
from tests.support.logs import daemon_log
from tests.support.stub_scorer import StubScorer

MAIL = Path(__file__).parent / "data" / "mail"
REFUSAL = "550 5.1.1 <jane.doe@example.org>: Recipient address rejected: User unknown"


@pytest.fixture(params=["text", "json"])
def output(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    with daemon_log(request.param) as stream:
        yield stream


@pytest.fixture
def text_output() -> Iterator[io.StringIO]:
    with daemon_log("text") as stream:
        yield stream


def test_an_address_in_the_arguments_is_masked(output: io.StringIO) -> None:
    log = logging.getLogger("bot.sender")
    log.error("send outbox=%s failed for good: %s", 7, f"refused: {REFUSAL}")
    log.warning("reply to %s, cc %s", "Ünal.Kaya@beispiel.de", "x@shop.example")
    log.warning("refused: %r", {"to": '"john doe"@example.net'})
    text = output.getvalue()
    assert "failed for good" in text and "Recipient address rejected" in text
    assert "j***@example.org" in text and "j***@example.net" in text
    assert "Ü***@beispiel.de" in text and "x***@shop.example" in text
    for local in ("jane.doe", "Ünal.Kaya", "x@", "john doe"):
        assert local not in text


def test_an_address_in_an_exception_and_its_traceback_is_masked(output: io.StringIO) -> None:
    log = logging.getLogger("connectors.email.connector")
    try:
        try:
            raise smtplib.SMTPDataError(550, REFUSAL[4:].encode())
        except smtplib.SMTPDataError as exc:
            raise RuntimeError(f"SMTP refused ann.customer@example.org: {exc}") from exc
    except RuntimeError:
        log.exception("email support-mail: sending failed")
    text = output.getvalue()
    assert "Traceback" in text and "SMTPDataError" in text and "RuntimeError" in text
    assert "j***@example.org" in text and "a***@example.org" in text
    assert "jane.doe" not in text and "ann.customer" not in text


def test_secrets_are_still_masked_beside_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALBOT_EMAIL_PASSWORD", "mail-password-0123456789")
    with daemon_log("text") as stream:
        log = logging.getLogger("connectors.email.smtp")
        log.warning("login as %s with %s", "jane.doe@example.org", "mail-password-0123456789")
        try:
            raise RuntimeError("jane.doe@example.org / mail-password-0123456789 refused")
        except RuntimeError:
            log.exception("SMTP login failed")
        text = stream.getvalue()
    assert "login as j***@example.org with ***" in text
    assert "RuntimeError: j***@example.org / *** refused" in text
    assert "mail-password" not in text and "jane.doe" not in text


def test_what_is_not_an_address_is_left_alone(text_output: io.StringIO) -> None:
    kept = [
        "postgresql+psycopg://socialbot@db.internal.example:5432/socialbot",
        "redis://default:***@cache.example.org:6379/0",
        "https://api.example.com/2/users/@me?x=1",
        "decorated with @pytest.fixture at tests/conftest.py:12",
        "pinned textblob@0.18.0",
        "a @ b.example",
    ]
    log = logging.getLogger("test.privacy")
    for line in kept:
        log.info("%s", line)
    # Message-IDs have the shape of an address: masked too, and still tell one thread apart
    log.info("replying to %s", "<CAF1042.alt@mail.example.org>")
    text = text_output.getvalue()
    for line in kept:
        assert line in text
    assert "<C***@mail.example.org>" in text


def test_the_address_is_masked_once_however_often_it_is_written(text_output: io.StringIO) -> None:
    logging.getLogger("test.privacy").info("%s, again %s", "j***@example.org", "jane@example.org")
    assert "j***@example.org, again j***@example.org" in text_output.getvalue()


def test_a_call_with_bad_arguments_is_printed_masked(text_output: io.StringIO) -> None:
    logging.getLogger("test.privacy").warning("no reply to %d", "jane@example.org")
    text = text_output.getvalue()
    assert "no reply to %d" in text and "j***@example.org" in text and "jane" not in text


class SmtpOnlyEmail(EmailConnector):
    """The real email connector with its IMAP side replaced by one message already fetched:
    the reply goes out through the real smtplib code to the aiosmtpd sink."""

    def __init__(self, settings: EmailSettings, raw: bytes) -> None:
        super().__init__(settings, ConnectorContext("support-mail", MemoryCursors()))
        self.raw = raw

    async def connect(self) -> None:
        return None

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        fetched = FetchedMessage(1, 1, self.raw, len(self.raw), None, frozenset())
        yield to_inbound(fetched, self.settings, channel=self.name, cursor=Cursor("imap", "1:1"))

    async def committed(self, item: Inbound) -> None:
        return None


async def test_a_refused_email_reply_is_logged_without_the_customers_address(
    tmp_path: Path, smtp_sink: SmtpSink, text_output: io.StringIO
) -> None:
    settings = EmailSettings.model_validate(
        {
            "address": "support@shop.example",
            "imap_host": "127.0.0.1",
            "imap_tls": "none",
            "smtp_host": smtp_sink.host,
            "smtp_port": smtp_sink.port,
            "smtp_tls": "none",
            "smtp_auth": False,
            "save_sent": False,
            "timeout": 5,
            "retry_attempts": 2,
            "retry_max_wait": 0.1,
        }
    )
    connector = SmtpOnlyEmail(settings, (MAIL / "multipart_alternative.eml").read_bytes())
    refusal = "550 5.1.1 <ann.customer@example.org>: Recipient address rejected: User unknown"
    smtp_sink.handler.fail_data.extend([refusal] * 5)
    config = make_config(tmp_path)

    stats = await run_once(config, [connector], scorer=StubScorer())

    assert stats.replies_failed >= 1 and smtp_sink.received == []
    text = text_output.getvalue()
    failed = [line for line in text.splitlines() if "failed for good" in line]
    assert failed and all(" ERROR " in line for line in failed)
    assert "Recipient address rejected" in failed[0] and "a***@example.org" in failed[0]
    assert "ann.customer" not in text.lower()
    # the database keeps the whole reason (erased by `socialbot forget`), only logs are masked
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            errors = list(await session.scalars(select(OutboxMessage.last_error)))
    finally:
        await db.close()
    assert any(error and "<ann.customer@example.org>" in error for error in errors)
