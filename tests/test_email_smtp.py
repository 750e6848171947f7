"""Replies over SMTP to an aiosmtpd sink: threading headers, loop safety, Sent copy, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConnectorError, TransientError
from connectors.base import ConnectorContext, Inbound, Kind, Outbound
from connectors.email import EmailConnector, EmailSettings
from tests.sims.mail_servers import (
    Dovecot,
    MailUser,
    MemoryCursors,
    SmtpSink,
    dovecot_fixture,  # noqa: F401 - pytest fixture
    email_section,
    free_port,
    mail_env_fixture,  # noqa: F401 - pytest fixture
    mail_user_fixture,  # noqa: F401 - pytest fixture
    smtp_sink_fixture,  # noqa: F401 - pytest fixture
)

MAIL = Path(__file__).parent / "data" / "mail"
pytestmark = pytest.mark.service("dovecot")


@pytest.fixture
def make(dovecot: Dovecot, smtp_sink: SmtpSink) -> Iterator[Any]:
    made: list[EmailConnector] = []

    def factory(**overrides: Any) -> EmailConnector:
        settings = EmailSettings.model_validate(email_section(dovecot, smtp_sink, **overrides))
        conn = EmailConnector(settings, ConnectorContext("support-mail", MemoryCursors()))
        made.append(conn)
        return conn

    yield factory
    assert all(c.health().state == "stopped" for c in made), "close() every connector"


async def receive(dovecot: Dovecot, user: MailUser, conn: EmailConnector, name: str) -> Inbound:
    """Deliver a sample and read it back through the connector, as the daemon would."""
    dovecot.append(user, (MAIL / name).read_bytes())
    items = [item async for item in conn.listen(follow=False)]
    assert len(items) == 1
    return items[0]


def reply_to(item: Inbound, text: str, outbox_id: int = 1, **meta: str) -> Outbound:
    """The outbox row the daemon writes: inbound meta copied, bound to thread and message."""
    return Outbound(
        channel=item.channel,
        kind=Kind.EMAIL,
        thread=item.thread,
        text=text,
        in_reply_to=item.external_id,
        recipient_id=item.author.id,
        idempotency_key=f"socialbot-outbox-{outbox_id}",
        meta={**item.meta, **meta},
    )


async def test_acknowledgement_threads_in_the_customers_client(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "multipart_alternative.eml")
    ref = await conn.send(reply_to(item, "Thank you, we are on it. Ticket #7.", purpose="ack"))
    await conn.close()

    assert len(smtp_sink.received) == 1
    sent = smtp_sink.received[0]
    assert sent.rcpt_tos == ["ann.customer@example.org"]
    assert sent.mail_from == "support@shop.example"
    msg = sent.message
    assert msg["To"] == "ann.customer@example.org"
    assert msg["From"] == "Shop Support <support@shop.example>"
    assert msg["Subject"] == "Re: Order #1042 never arrived – please help"
    assert msg["In-Reply-To"] == "<CAF1042.alt@mail.example.org>"
    assert msg["References"] == "<CAF1042.alt@mail.example.org>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] == ref.external_id
    assert msg.get_content().strip() == "Thank you, we are on it. Ticket #7."
    # a copy is filed in Sent, where find_sent() looks after a crash
    filed = dovecot.messages(mail_env, "Sent")
    assert [m["Message-ID"] for m in filed] == [ref.external_id]


async def test_reply_to_a_follow_up_keeps_the_chain(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "reply_with_quotes.eml")
    await conn.send(reply_to(item, "Sorry! Refund issued.", purpose="agent_reply"))
    await conn.close()
    msg = smtp_sink.received[0].message
    assert msg["In-Reply-To"] == "<CAF1042.followup@mail.example.org>"
    assert msg["References"].split() == [
        "<CAF1042.alt@mail.example.org>",
        "<socialbot.0123@shop.example>",
        "<CAF1042.followup@mail.example.org>",
    ]
    assert msg["Subject"] == "Re: Order #1042 never arrived"  # no "Re: Re:"
    assert msg["Auto-Submitted"] is None  # a person wrote it


async def test_reply_without_meta_looks_up_the_original_in_the_mailbox(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "outlook_reply.eml")
    bare = Outbound(
        channel=item.channel, kind=Kind.EMAIL, thread=item.thread, text="Fixed, new invoice sent.",
        in_reply_to=item.external_id, recipient_id=None, idempotency_key="socialbot-outbox-9",
    )  # fmt: skip
    await conn.send(bare)
    await conn.close()
    msg = smtp_sink.received[0].message
    assert msg["To"] == "greg@contoso.example"
    assert msg["Subject"] == "RE: Invoice 5561"
    assert msg["In-Reply-To"] == "<DM6PR01MB0001.outlook@contoso.example>"
    assert msg["References"].split()[0] == "<invoice5561-root@contoso.example>"


async def test_reply_goes_to_reply_to_when_given(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    raw = b"From: Lee <lee@example.com>\nReply-To: orders@lee.example\nMessage-ID: <rt@e.x>\n\nhi\n"
    dovecot.append(mail_env, raw)
    conn = make()
    (item,) = [i async for i in conn.listen(follow=False)]
    await conn.send(reply_to(item, "Hello Lee"))
    await conn.close()
    assert item.author.id == "lee@example.com"
    assert smtp_sink.received[0].rcpt_tos == ["orders@lee.example"]


async def test_find_sent_finds_only_the_reply_of_that_outbox_row(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    ack = reply_to(item, "Merci, nous regardons.", outbox_id=41)
    assert await conn.find_sent(ack) is None  # no Sent folder yet
    ref = await conn.send(ack)
    found = await conn.find_sent(ack)
    other = await conn.find_sent(reply_to(item, "Merci", outbox_id=42))
    await conn.close()
    assert found is not None and found.external_id == ref.external_id
    assert other is None


async def test_without_a_sent_copy_find_sent_cannot_tell(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make(save_sent=False)
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    ack = reply_to(item, "Merci")
    await conn.send(ack)
    assert await conn.find_sent(ack) is None
    await conn.close()
    assert dovecot.messages(mail_env, "Sent") == []
    assert len(smtp_sink.received) == 1


async def test_text_is_trimmed_to_max_length(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    await conn.send(reply_to(item, "é" * 25_000))
    await conn.close()
    assert conn.max_length == 20_000
    assert smtp_sink.received[0].message.get_content().strip() == "é" * 20_000


async def test_deferral_is_retried_and_sent_once(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    smtp_sink.handler.fail_data.append("451 4.3.0 Try again later")
    await conn.send(reply_to(item, "Merci"))
    await conn.close()
    assert smtp_sink.handler.fail_data == []  # the 451 was answered
    assert len(smtp_sink.received) == 1
    assert conn.health().errors == 1


async def test_rejection_is_permanent(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    smtp_sink.handler.fail_data.extend(["554 5.7.1 Message rejected as spam"] * 5)
    with pytest.raises(ConnectorError) as caught:
        await conn.send(reply_to(item, "Merci"))
    await conn.close()
    assert not isinstance(caught.value, TransientError)
    assert "554" in str(caught.value)
    assert len(smtp_sink.handler.fail_data) == 4  # tried once: retrying cannot help


async def test_unreachable_relay_is_transient_after_capped_retries(
    dovecot: Dovecot, mail_env: MailUser, make: Any
) -> None:
    conn = make(smtp_port=free_port(), retry_attempts=3)
    item = await receive(dovecot, mail_env, conn, "iso_8859_1.eml")
    with pytest.raises(TransientError, match="SMTP"):
        await conn.send(reply_to(item, "Merci"))
    await conn.close()
    assert conn.health().errors == 3


async def test_never_mails_our_own_address(
    dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink, make: Any
) -> None:
    conn = make()
    item = await receive(dovecot, mail_env, conn, "from_self.eml")
    with pytest.raises(ConnectorError, match="own address"):
        await conn.send(reply_to(item, "loop?"))
    await conn.close()
    assert item.author.is_self
    assert smtp_sink.received == []
