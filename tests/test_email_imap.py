"""The email connector against a real IMAP server (dovecot on loopback), mail sent by APPEND."""

from __future__ import annotations

import asyncio
import json
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.errors import AuthError, TransientError
from connectors.base import ConnectorContext, Inbound
from connectors.email import EmailConnector, EmailSettings
from tests.sims.mail_servers import (
    Dovecot,
    FlakyProxy,
    MailUser,
    MemoryCursors,
    dovecot_fixture,  # noqa: F401 - pytest fixture
    email_section,
    mail_env_fixture,  # noqa: F401 - pytest fixture
    mail_user_fixture,  # noqa: F401 - pytest fixture
)

MAIL = Path(__file__).parent / "data" / "mail"
pytestmark = pytest.mark.service("dovecot")


def sample(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def connector(
    dovecot: Dovecot, cursors: MemoryCursors | None = None, **overrides: Any
) -> EmailConnector:
    settings = EmailSettings.model_validate(email_section(dovecot, **overrides))
    return EmailConnector(settings, ConnectorContext("support-mail", cursors or MemoryCursors()))


async def drain(
    conn: EmailConnector, cursors: MemoryCursors, *, commit: bool = True
) -> list[Inbound]:
    """What `socialbot run --once` does with each item: store (cursor), then committed()."""
    items = []
    async for item in conn.listen(follow=False):
        cursors.store(item)
        if commit:
            await conn.committed(item)
        items.append(item)
    return items


async def test_each_message_arrives_once_with_author_thread_and_text(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    names = ["multipart_alternative.eml", "reply_with_quotes.eml", "iso_8859_1.eml",
             "auto_reply.eml", "bounce.eml"]  # fmt: skip
    uids = [dovecot.append(mail_env, sample(name)) for name in names]
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors)
    await conn.connect()
    first = await drain(conn, cursors)
    again = await drain(conn, cursors)
    await conn.close()

    assert [item.meta["imap_uid"] for item in first] == [str(uid) for uid in uids]
    assert again == []
    ann, follow_up, renee, ooo, bounce = first
    assert ann.author.handle == "ann.customer@example.org" and not ann.author.is_bot
    assert follow_up.thread == ann.thread == "<CAF1042.alt@mail.example.org>"
    assert (
        follow_up.text == "Still nothing, this is getting really frustrating.\nI want a refund now."
    )
    assert "La boîte était abîmée" in renee.text
    assert ooo.author.is_bot and bounce.author.is_bot
    assert len({item.external_id for item in first}) == 5
    assert conn.health().state == "stopped" and conn.health().token_valid is True


async def test_seen_is_set_only_after_committed(dovecot: Dovecot, mail_env: MailUser) -> None:
    uid = dovecot.append(mail_env, sample("multipart_alternative.eml"))
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors)
    items = await drain(conn, cursors, commit=False)
    assert len(items) == 1
    assert "\\Seen" not in dovecot.flags(mail_env, uid)  # fetched with BODY.PEEK
    await conn.committed(items[0])
    assert "\\Seen" in dovecot.flags(mail_env, uid)
    await conn.close()


async def test_restart_resumes_from_the_stored_cursor(dovecot: Dovecot, mail_env: MailUser) -> None:
    cursors = MemoryCursors()
    dovecot.append(mail_env, sample("multipart_alternative.eml"))
    dovecot.append(mail_env, sample("iso_8859_1.eml"))
    first_run = connector(dovecot, cursors)
    # stored but never marked seen (a crash between store and committed): still not re-read
    before = await drain(first_run, cursors, commit=False)
    await first_run.close()
    late = dovecot.append(mail_env, sample("html_only.eml"))

    second_run = connector(dovecot, cursors)
    await second_run.connect()
    after = await drain(second_run, cursors)
    await second_run.close()

    assert len(before) == 2
    assert [item.meta["imap_uid"] for item in after] == [str(late)]
    validity = after[0].meta["uidvalidity"]
    assert cursors.values[("support-mail", "imap:INBOX")] == f"{validity}:{late}"


async def test_first_start_takes_unseen_mail_only_unless_told(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    dovecot.append(mail_env, sample("iso_8859_1.eml"), flags="(\\Seen)")
    unseen = dovecot.append(mail_env, sample("multipart_alternative.eml"))
    found = {}
    for scan in ("unseen", "all", "new"):
        conn = connector(dovecot, initial_scan=scan)
        found[scan] = await drain(conn, MemoryCursors(), commit=False)
        await conn.close()
    default, everything, nothing_old = found["unseen"], found["all"], found["new"]
    assert [item.meta["imap_uid"] for item in default] == [str(unseen)]
    assert len(everything) == 2
    assert nothing_old == []


async def test_first_start_on_read_mailbox_then_new_mail_arrives(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    dovecot.append(mail_env, sample("iso_8859_1.eml"), flags="(\\Seen)")
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors)
    assert await drain(conn, cursors) == []
    # read by a person in their mail client before our next poll: still taken, by UID
    new = dovecot.append(mail_env, sample("html_only.eml"), flags="(\\Seen)")
    assert [item.meta["imap_uid"] for item in await drain(conn, cursors)] == [str(new)]
    await conn.close()


async def test_uidvalidity_change_rescans_without_duplicates(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    cursors = MemoryCursors()
    dovecot.append(mail_env, sample("multipart_alternative.eml"))
    conn = connector(dovecot, cursors)
    first = await drain(conn, cursors)
    await conn.close()
    dovecot.set_uidvalidity(mail_env, 424242)
    fresh = dovecot.append(mail_env, sample("iso_8859_1.eml"))

    restarted = connector(dovecot, cursors)
    await restarted.connect()
    second = await drain(restarted, cursors)
    await restarted.close()

    assert len(first) == 1
    # the old message is \Seen (committed), so the re-scan of unseen mail takes only the new one
    assert [(i.meta["uidvalidity"], i.meta["imap_uid"]) for i in second] == [("424242", str(fresh))]
    assert cursors.values[("support-mail", "imap:INBOX")] == f"424242:{fresh}"


def big_mail(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Kim <kim@example.com>"
    msg["To"] = "support@shop.example"
    msg["Subject"] = "Video of the fault"
    msg["Message-ID"] = "<big-video@example.com>"
    msg.set_content("The blender makes a terrible noise, video attached.")
    msg.add_attachment(
        bytes(range(256)) * (size // 256), maintype="video", subtype="mp4", filename="noise.mp4"
    )
    return msg.as_bytes()


async def test_20_mb_attachment_is_stored_with_name_and_size(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    size = 20 * 1024 * 1024
    dovecot.append(mail_env, big_mail(size))
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors, timeout=60)
    items = await drain(conn, cursors)
    await conn.close()
    assert len(items) == 1
    assert (
        items[0].text == "Video of the fault\n\nThe blender makes a terrible noise, video attached."
    )
    assert json.loads(items[0].meta["attachments"]) == [
        {"name": "noise.mp4", "size": size, "type": "video/mp4"}
    ]
    assert int(items[0].meta["size"]) > size  # base64 on the wire


async def test_message_above_max_bytes_is_taken_by_its_header(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    dovecot.append(mail_env, big_mail(2 * 1024 * 1024))
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors, max_message_bytes=1_000_000)
    items = await drain(conn, cursors)
    await conn.close()
    assert len(items) == 1
    assert items[0].meta["header_only"] == "true"
    assert items[0].meta["subject"] == "Video of the fault"
    assert "not downloaded" in items[0].text


async def test_refused_login_is_an_auth_error_and_health_down(
    dovecot: Dovecot, mail_env: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIALBOT_TEST_MAIL_PASSWORD", "wrong-password-xyz")
    conn = connector(dovecot)
    with pytest.raises(AuthError) as caught:
        await conn.connect()
    message = str(caught.value)
    assert "login" in message and "SOCIALBOT_TEST_MAIL_PASSWORD" in message
    assert "wrong-password-xyz" not in message and "wrong-password-xyz" not in repr(conn)
    health = conn.health()
    assert health.state == "down" and health.token_valid is False
    with pytest.raises(AuthError):  # listen() fails the same clear way, it does not loop
        await drain(conn, MemoryCursors())
    await conn.close()


async def test_missing_credentials_name_the_variable(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOCIALBOT_TEST_MAIL_PASSWORD", raising=False)
    monkeypatch.setenv("SOCIALBOT_TEST_MAIL_USER", "someone")
    conn = connector(dovecot)
    with pytest.raises(AuthError, match="SOCIALBOT_TEST_MAIL_PASSWORD"):
        await conn.connect()
    assert conn.health().state == "down"  # the daemon retries later; other connectors go on
    await conn.close()


async def test_dropped_connection_is_retried_and_nothing_is_lost(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    proxy = FlakyProxy((dovecot.host, dovecot.port))
    try:
        cursors = MemoryCursors()
        conn = connector(dovecot, cursors, imap_port=proxy.port)
        dovecot.append(mail_env, sample("multipart_alternative.eml"))
        first = await drain(conn, cursors)
        proxy.cut()  # the server side of our idle connection goes away
        dovecot.append(mail_env, sample("iso_8859_1.eml"))
        second = await drain(conn, cursors)
        await conn.close()
    finally:
        proxy.close()
    assert len(first) == 1 and len(second) == 1
    assert first[0].external_id != second[0].external_id
    assert proxy.connections >= 2  # it reconnected
    assert conn.health().errors >= 1


async def test_timeouts_are_transient_and_capped(dovecot: Dovecot, mail_env: MailUser) -> None:
    proxy = FlakyProxy((dovecot.host, dovecot.port))
    try:
        cursors = MemoryCursors()
        conn = connector(dovecot, cursors, imap_port=proxy.port, timeout=0.3, retry_attempts=2)
        await conn.connect()
        proxy.stall.set()
        with pytest.raises(TransientError):
            await drain(conn, cursors)
        assert conn.health().state == "degraded"
        proxy.stall.clear()
        dovecot.append(mail_env, sample("iso_8859_1.eml"))
        recovered = await drain(conn, cursors)
        await conn.close()
    finally:
        proxy.close()
    assert len(recovered) == 1
    assert conn.health().errors >= 2


async def test_follow_mode_delivers_new_mail_and_survives_a_drop(
    dovecot: Dovecot, mail_env: MailUser
) -> None:
    proxy = FlakyProxy((dovecot.host, dovecot.port))
    cursors = MemoryCursors()
    conn = connector(dovecot, cursors, imap_port=proxy.port)
    received: asyncio.Queue[Inbound] = asyncio.Queue()

    async def run() -> None:
        async for item in conn.listen(follow=True):
            cursors.store(item)
            await conn.committed(item)
            await received.put(item)

    task = asyncio.create_task(run())
    try:
        dovecot.append(mail_env, sample("multipart_alternative.eml"))
        first = await asyncio.wait_for(received.get(), 30)
        proxy.cut()
        dovecot.append(mail_env, sample("html_only.eml"))
        second = await asyncio.wait_for(received.get(), 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()
        proxy.close()
    assert first.external_id == "<CAF1042.alt@mail.example.org>"
    assert second.external_id == "<html-only-7731@example.net>"
    assert received.empty()
