"""Parsing real-world mail shapes (samples in tests/data/mail) into Inbound; no server needed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Cursor, Kind
from connectors.email.inbound import to_inbound
from connectors.email.parse import parse_mail
from connectors.email.quotes import strip_quotes
from connectors.email.settings import EmailSettings
from connectors.email.types import FetchedMessage

MAIL = Path(__file__).parent / "data" / "mail"
SETTINGS = EmailSettings(
    address="support@shop.example", imap_host="imap.shop.example", smtp_host="smtp.shop.example"
)


def sample(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def inbound(raw: bytes, uid: int = 7, **changes: object):  # type: ignore[no-untyped-def]
    fetched = FetchedMessage(
        uid=uid, uidvalidity=1234, raw=raw, size=len(raw),
        internal_date=datetime(2024, 6, 3, 7, 15, tzinfo=UTC), flags=frozenset(),
    )  # fmt: skip
    return to_inbound(fetched, SETTINGS, channel="mail", cursor=Cursor("imap:INBOX", f"1234:{uid}"))


def test_multipart_alternative_prefers_plain_text_and_decodes_headers() -> None:
    item = inbound(sample("multipart_alternative.eml"))
    assert item.kind is Kind.EMAIL
    assert item.external_id == "<CAF1042.alt@mail.example.org>"
    assert item.thread == item.external_id  # a new conversation is its own root
    assert item.author.id == "ann.customer@example.org"  # lower-cased address
    assert item.author.display_name == "Ann Müller"
    assert not item.author.is_bot and not item.author.is_self
    # a new conversation's subject is its first line: it often is the complaint itself
    assert item.text.startswith("Order #1042 never arrived – please help\n\nHello,\n\nmy order")
    assert "“in transit”" in item.text and "<p>" not in item.text
    assert item.meta["subject"] == "Order #1042 never arrived – please help"
    assert item.meta["message_id"] == "<CAF1042.alt@mail.example.org>"
    assert item.meta["imap_uid"] == "7" and item.meta["uidvalidity"] == "1234"
    assert item.cursor == Cursor("imap:INBOX", "1234:7")
    assert item.created_at == datetime(2024, 6, 3, 7, 15, tzinfo=UTC)  # server arrival time


def test_html_only_is_converted_and_its_quote_dropped() -> None:
    item = inbound(sample("html_only.eml"))
    assert (
        item.text
        == "The refund still hasn't shown up on my card — it's been 10 days.\n\nPlease check again."
    )
    assert "<div" not in item.text and "color: red" not in item.text
    assert int(item.meta["quoted_chars"]) > 50
    assert item.thread == "<root-5510@example.net>"  # the root of References


def test_iso_8859_1_body_and_subject() -> None:
    item = inbound(sample("iso_8859_1.eml"))
    assert "La boîte était abîmée à la livraison" in item.text
    assert item.meta["subject"] == "Problème avec ma commande"
    assert item.author.display_name == "Renée François"


@pytest.mark.parametrize("name", ["broken_charset.eml", "utf8_declared_latin1_body.eml"])
def test_broken_encodings_are_replaced_not_fatal(name: str) -> None:
    item = inbound(sample(name))
    assert "\ufffd" in item.text
    assert item.text.encode("utf-8")  # storable: no lone surrogates left
    assert item.meta["subject"].encode("utf-8")


def test_broken_charset_keeps_the_readable_words_and_the_attachment() -> None:
    item = inbound(sample("broken_charset.eml"))
    assert "My invoice is wrong" in item.text and item.text.endswith("twice charged.")
    attachments = json.loads(item.meta["attachments"])
    assert [a["name"] for a in attachments] == ["notes.txt"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto_reply.eml", "auto-submitted: auto-replied"),
        ("vacation_precedence.eml", "precedence: bulk"),
        ("bounce.eml", "bounce: multipart/report"),
        ("list_mail.eml", "mailing list: List-Id"),
        ("noreply.eml", "system sender: no-reply"),
    ],
)
def test_machines_are_bots(name: str, reason: str) -> None:
    item = inbound(sample(name))
    assert item.author.is_bot
    assert item.meta["bot_reason"] == reason


@pytest.mark.parametrize(
    "name", ["multipart_alternative.eml", "html_only.eml", "reply_with_quotes.eml",
             "outlook_reply.eml", "with_attachment.eml", "iso_8859_1.eml"],
)  # fmt: skip
def test_people_are_not_bots(name: str) -> None:
    item = inbound(sample(name))
    assert not item.author.is_bot
    assert "bot_reason" not in item.meta


def test_auto_submitted_no_is_a_person() -> None:
    raw = b"From: a@example.com\nAuto-Submitted: no\nSubject: hi\n\nhello\n"
    assert not inbound(raw).author.is_bot


def test_our_own_address_is_self_case_insensitively() -> None:
    item = inbound(sample("from_self.eml"))
    assert item.author.is_self
    assert item.author.id == "support@shop.example"


def test_follow_up_lands_in_the_first_messages_thread() -> None:
    first = inbound(sample("multipart_alternative.eml"), uid=1)
    follow_up = inbound(sample("reply_with_quotes.eml"), uid=2)
    assert follow_up.thread == first.thread == "<CAF1042.alt@mail.example.org>"
    assert follow_up.meta["in_reply_to"] == "<socialbot.0123@shop.example>"
    assert follow_up.meta["references"].split() == [
        "<CAF1042.alt@mail.example.org>",
        "<socialbot.0123@shop.example>",
    ]


def test_quoted_reply_and_signature_are_stripped() -> None:
    item = inbound(sample("reply_with_quotes.eml"))
    assert item.text == "Still nothing, this is getting really frustrating.\nI want a refund now."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "outlook_reply.eml",
            "The VAT number on the invoice is still wrong. Please correct it.\n\nGreg",
        ),
        ("outlook_header_block.eml", "Could you deliver on Friday instead?"),
    ],
)
def test_outlook_history_is_stripped(name: str, expected: str) -> None:
    assert inbound(sample(name)).text == expected


def test_attachments_are_recorded_by_name_type_and_size() -> None:
    item = inbound(sample("with_attachment.eml"))
    attachments = json.loads(item.meta["attachments"])
    assert attachments == [
        {"name": "photo.jpg", "size": 57, "type": "image/jpeg"},
        {"name": "Quittung März.pdf", "size": 27, "type": "application/pdf"},
    ]
    assert item.text == (
        "Damaged item, photo attached\n\n"
        "The lamp arrived with a cracked shade, see the photo and the receipt."
    )


def test_subject_opens_only_a_new_conversations_text() -> None:
    raw = b"From: a@example.com\nSubject: Refund NOW\nMessage-ID: <n@e.x>\n\nSee subject.\n"
    assert inbound(raw).text == "Refund NOW\n\nSee subject."
    assert inbound(sample("reply_with_quotes.eml")).text.startswith("Still nothing")
    assert inbound(sample("outlook_header_block.eml")).text.startswith("Could you")  # "RE:"
    off = SETTINGS.model_copy(update={"subject_in_text": False})
    fetched = FetchedMessage(1, 1, raw, len(raw), None, frozenset())
    item = to_inbound(fetched, off, channel="mail", cursor=Cursor("imap:INBOX", "1:1"))
    assert item.text == "See subject."


def test_no_message_id_falls_back_to_a_stable_mailbox_hash() -> None:
    raw = sample("no_message_id.eml")
    first, again, other = inbound(raw, uid=5), inbound(raw, uid=5), inbound(raw, uid=6)
    assert first.external_id.startswith("imap-sha256:")
    assert first.external_id == again.external_id != other.external_id
    assert first.thread == first.external_id
    assert "message_id" not in first.meta


def test_overlong_message_id_is_hashed_consistently_for_id_and_thread() -> None:
    long_id = "<" + "x" * 300 + "@example.com>"
    root = inbound(f"From: a@example.com\nMessage-ID: {long_id}\n\nfirst\n".encode())
    reply = inbound(
        f"From: a@e.com\nMessage-ID: <r@e.com>\nReferences: {long_id}\n\nmore\n".encode()
    )
    assert len(root.external_id) <= 255
    assert reply.thread == root.thread == root.external_id


def test_meta_is_small_strings_only() -> None:
    big = EmailMessage()
    big["From"] = "k@example.com"
    big["Message-ID"] = "<big@example.com>"
    big.set_content("see attached")
    big.add_attachment(
        b"\0" * 300_000, maintype="application", subtype="octet-stream", filename="dump.bin"
    )
    item = inbound(big.as_bytes())
    assert all(isinstance(v, str) for v in item.meta.values())
    assert sum(len(v) for v in item.meta.values()) < 2_000
    assert json.loads(item.meta["attachments"])[0] == {
        "name": "dump.bin",
        "size": 300_000,
        "type": "application/octet-stream",
    }


def test_very_long_text_is_capped() -> None:
    raw = b"From: a@example.com\nMessage-ID: <l@e.x>\n\n" + b"word " * 40_000
    parsed = parse_mail(raw, max_text_chars=10_000)
    assert len(parsed.text) < 10_100 and parsed.text.endswith("[... truncated]")


def test_header_only_fetch_says_so_in_the_text() -> None:
    fetched = FetchedMessage(
        uid=9, uidvalidity=1, raw=b"From: a@example.com\nMessage-ID: <h@e.x>\nSubject: huge\n\n",
        size=90_000_000, internal_date=None, flags=frozenset(), header_only=True,
    )  # fmt: skip
    item = to_inbound(fetched, SETTINGS, channel="mail", cursor=Cursor("imap:INBOX", "1:9"))
    assert "90,000,000 bytes not downloaded" in item.text
    assert item.meta["header_only"] == "true" and item.meta["subject"] == "huge"


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("Thanks!\n\nOn Tue, 4 Jun 2024, Support <s@x> wrote:\n> hi", "Thanks!"),
        ("Merci\n\nLe mar. 4 juin 2024 à 10:00, Support <s@x> a écrit :\n> hi", "Merci"),
        ("Danke\n\nAm 04.06.2024 um 10:00 schrieb Support <s@x>:\n> hi", "Danke"),
        ("> only a quote\n> nothing else", "> only a quote\n> nothing else"),  # never empty
        ("inline answer\n> question one\nanswer one", "inline answer\nanswer one"),
        ("No quotes at all.", "No quotes at all."),
    ],
)
def test_strip_quotes(text: str, own: str) -> None:
    assert strip_quotes(text)[0] == own


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_parsing_never_crashes_on_arbitrary_bytes(raw: bytes) -> None:
    item = inbound(b"From: f@example.com\nContent-Type: text/plain; charset=utf-8\n\n" + raw)
    for value in (item.text, *item.meta.values()):
        value.encode("utf-8")  # raises on a lone surrogate: the database would refuse it
        assert "\x00" not in value


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1_500))
def test_parsing_never_crashes_on_garbage_headers(raw: bytes) -> None:
    item = inbound(raw)
    assert item.external_id
    assert "\x00" not in item.text


def test_a_parser_bug_yields_a_stored_never_answered_item(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.base import ConnectorContext
    from connectors.email import EmailConnector, connector
    from tests.sims.mail_servers import MemoryCursors

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(connector, "to_inbound", explode)
    conn = EmailConnector(SETTINGS, ConnectorContext("mail", MemoryCursors()))
    raw = sample("iso_8859_1.eml")
    fetched = FetchedMessage(3, 99, raw, len(raw), None, frozenset())
    item = conn._inbound(fetched, 3)
    assert item.author.is_bot and item.meta["bot_reason"] == "unparseable"
    assert item.cursor == Cursor("imap:INBOX", "99:3")
    assert item.meta["imap_uid"] == "3"  # committed() can still mark it \Seen
