"""The real daemon, built from config through the entry point, against dovecot and an SMTP sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.daemon import Daemon
from bot.stats import RunStats
from storage.db import Database
from storage.models import Interaction, OutboxMessage
from tests.sims.mail_servers import (
    Dovecot,
    MailUser,
    SmtpSink,
    dovecot_fixture,  # noqa: F401 - pytest fixture
    email_section,
    mail_env_fixture,  # noqa: F401 - pytest fixture
    mail_user_fixture,  # noqa: F401 - pytest fixture
    smtp_sink_fixture,  # noqa: F401 - pytest fixture
)
from tests.support.harness import count_rows, make_config
from tests.support.stub_scorer import StubScorer

MAIL = Path(__file__).parent / "data" / "mail"
pytestmark = pytest.mark.service("dovecot")


def mail_config(tmp_path: Path, dovecot: Dovecot, sink: SmtpSink, **settings: Any) -> Config:
    return make_config(
        tmp_path, connectors={"support-mail": email_section(dovecot, sink, **settings)}
    )


async def run_once(config: Config) -> RunStats:
    return await Daemon(config, scorer=StubScorer()).run(once=True, install_signals=False)


async def threads(config: Config) -> dict[str, str]:
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Interaction.external_id, Interaction.thread).where(
                    Interaction.direction == "in"
                )
            )
            return {str(external_id): thread for external_id, thread in rows}
    finally:
        await db.close()


async def test_daemon_acknowledges_a_customer_once_in_their_thread_and_ignores_machines(
    tmp_path: Path, dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink
) -> None:
    customer = dovecot.append(mail_env, (MAIL / "multipart_alternative.eml").read_bytes())
    robots = [dovecot.append(mail_env, (MAIL / name).read_bytes())
              for name in ("auto_reply.eml", "bounce.eml", "noreply.eml")]  # fmt: skip
    config = mail_config(tmp_path, dovecot, smtp_sink)

    stats = await run_once(config)

    assert stats.stored == 4
    assert len(smtp_sink.received) == 1  # the customer, not the auto-reply/bounce/no-reply
    ack = smtp_sink.received[0]
    assert ack.rcpt_tos == ["ann.customer@example.org"]
    msg = ack.message
    assert msg["In-Reply-To"] == "<CAF1042.alt@mail.example.org>"
    assert msg["References"] == "<CAF1042.alt@mail.example.org>"
    assert msg["Subject"] == "Re: Order #1042 never arrived – please help"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert await count_rows(config, OutboxMessage, status="sent", purpose="ack") == 1
    assert stats.tickets_opened == 1  # "never arrived" in the subject made it a complaint
    assert "ticket #1" in msg.get_content()
    # every message stored, then marked \Seen
    for uid in (customer, *robots):
        assert "\\Seen" in dovecot.flags(mail_env, uid)
    # the acknowledgement was filed in Sent under the Message-ID the outbox recorded
    filed = dovecot.messages(mail_env, "Sent")
    assert [m["Message-ID"] for m in filed] == [msg["Message-ID"]]
    assert await count_rows(config, OutboxMessage, sent_external_id=msg["Message-ID"]) == 1


async def test_second_run_resumes_and_the_follow_up_joins_the_thread(
    tmp_path: Path, dovecot: Dovecot, mail_env: MailUser, smtp_sink: SmtpSink
) -> None:
    dovecot.append(mail_env, (MAIL / "multipart_alternative.eml").read_bytes())
    config = mail_config(tmp_path, dovecot, smtp_sink)
    await run_once(config)
    dovecot.append(mail_env, (MAIL / "reply_with_quotes.eml").read_bytes())

    stats = await run_once(config)

    assert stats.read == 1 and stats.duplicates == 0  # resumed from the stored cursor
    stored = await threads(config)
    assert stored == {
        "<CAF1042.alt@mail.example.org>": "<CAF1042.alt@mail.example.org>",
        "<CAF1042.followup@mail.example.org>": "<CAF1042.alt@mail.example.org>",
    }
    acks = [r.message for r in smtp_sink.received]
    assert len(acks) >= 1
    assert all(m["References"].split()[0] == "<CAF1042.alt@mail.example.org>" for m in acks)
