"""An aiosmtpd sink that records what the bot sent and can answer with injected statuses."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.sims.mail_servers.dovecot import TlsFiles, free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class SinkHandler:
    """Records accepted mail; ``fail_data`` holds statuses to answer the next DATA commands."""

    received: list[Received] = field(default_factory=list)
    fail_data: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.fail_data:
            return self.fail_data.pop(0)
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class SmtpSink:
    """aiosmtpd on a free loopback port (its Controller(port=0) fails its own ready check)."""

    def __init__(
        self,
        *,
        tls: TlsFiles | None = None,
        implicit_tls: bool = False,
        password: str | None = None,
    ) -> None:
        self.handler = SinkHandler()
        self.host = "127.0.0.1"
        kwargs: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls.cert, tls.key)
            if implicit_tls:  # port 465 style: TLS from the first byte
                kwargs.update(ssl_context=context)
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if password is not None:
            kwargs.update(
                auth_required=True,
                # aiosmtpd only knows STARTTLS sessions as TLS: with implicit TLS it must not
                # insist (the test then ignores its "AUTH without TLS" warning)
                auth_require_tls=tls is not None and not implicit_tls,
                authenticator=self._authenticator(password),
            )
        self.port = free_port()
        self._controller = Controller(self.handler, hostname=self.host, port=self.port, **kwargs)

    def _authenticator(self, password: str) -> Any:
        def check(
            server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.password == password.encode()
            if ok:
                self.handler.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        return check

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture(name="smtp_sink")
def smtp_sink_fixture() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
