"""Replies over SMTP (stdlib smtplib, run in a worker thread) that thread in any mail client.

A reply carries In-Reply-To and References (and "Re: subject"), so Gmail, Outlook and
Thunderbird file it under the customer's conversation. Automatic mail is marked
``Auto-Submitted`` (RFC 3834) so that the customer's vacation responder does not answer it and
start a loop. Its Message-ID is derived from the outbox row's idempotency key, so the copy in
the Sent folder can prove, after a crash, that the reply already went out.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from pydantic import SecretStr

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.email.imap import tls_context
from connectors.email.settings import EmailSettings

log = logging.getLogger(__name__)

# Outbox purposes written by a person: everything else the bot sends on its own.
HUMAN_PURPOSES = frozenset({"agent_reply", "agent", "manual", "human"})
# Direct automatic answers to the customer's message (RFC 3834 "auto-replied"); other
# automatic mail (CSAT survey, reminders, closing notices) is "auto-generated".
REPLY_PURPOSES = frozenset({"ack", "thanks", "acknowledgement", ""})
_MAX_REFERENCES = 20


def outgoing_message_id(channel: str, idempotency_key: str, address: str) -> str:
    """Deterministic Message-ID: the same outbox row always gets the same id."""
    digest = hashlib.sha256(f"{channel}\x00{idempotency_key}".encode()).hexdigest()[:40]
    return f"<socialbot.{digest}@{address.rsplit('@', 1)[-1]}>"


def auto_submitted(purpose: str) -> str | None:
    """The Auto-Submitted value for an outbox purpose; None for a person's reply."""
    if purpose in HUMAN_PURPOSES:
        return None
    return "auto-replied" if purpose in REPLY_PURPOSES else "auto-generated"


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split()) or "Your message"
    return subject if subject[:3].lower() == "re:" else f"Re: {subject}"


def build_reply(
    settings: EmailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    in_reply_to: str | None,
    references: tuple[str, ...],
    purpose: str,
) -> EmailMessage:
    """The reply as an RFC 5322 message: plain text, UTF-8, threaded, loop-safe."""
    msg = EmailMessage()
    msg["From"] = formataddr((settings.display_name or "", settings.address))
    msg["To"] = to
    msg["Subject"] = reply_subject(subject)
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    chain = _chain(references, in_reply_to)
    if chain:
        msg["References"] = " ".join(chain)
    marker = auto_submitted(purpose)
    if marker:
        msg["Auto-Submitted"] = marker
        msg["X-Auto-Response-Suppress"] = "All"  # Exchange/Outlook: no OOF answer to us
    msg.set_content(text, cte="quoted-printable")  # 7-bit safe: no 8BITMIME needed en route
    return msg


def _chain(references: tuple[str, ...], in_reply_to: str | None) -> list[str]:
    """References: the root and the most recent ids (RFC 5322 §3.6.4 allows trimming)."""
    chain = [ref for ref in references if ref]
    if in_reply_to and (not chain or chain[-1] != in_reply_to):
        chain.append(in_reply_to)
    unique = list(dict.fromkeys(chain))
    if len(unique) > _MAX_REFERENCES:
        unique = [unique[0], *unique[-(_MAX_REFERENCES - 1) :]]
    return unique


@contextmanager
def smtp_errors(host: str) -> Iterator[None]:
    """Map smtplib failures onto the bot's errors: 4xx and drops retry, 5xx does not."""
    try:
        yield
    except smtplib.SMTPAuthenticationError as exc:
        raise AuthError(f"SMTP login to {host} refused ({exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise ConnectorError(f"SMTP server {host} does not support: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise TransientError(f"SMTP {host} deferred the recipient ({codes[0]})") from None
        raise ConnectorError(f"SMTP {host} refused the recipient ({codes[:1]})") from None
    except smtplib.SMTPResponseException as exc:
        reply = f"{exc.smtp_code} {exc.smtp_error[:120]!r}"
        if 400 <= exc.smtp_code < 500:
            raise TransientError(f"SMTP {host} deferred: {reply}") from exc
        raise ConnectorError(f"SMTP {host} refused: {reply}") from exc
    except ssl.SSLCertVerificationError as exc:
        raise ConnectorError(
            f"TLS certificate of {host} not trusted: {exc.verify_message}"
        ) from exc
    except (TimeoutError, OSError) as exc:  # SMTPServerDisconnected is an OSError too
        raise TransientError(f"SMTP with {host} failed: {type(exc).__name__}") from exc


def send_message(
    settings: EmailSettings,
    msg: EmailMessage,
    recipient: str,
    credentials: tuple[str, SecretStr] | None,
) -> None:
    """One SMTP session per message: replies are rare enough, and it never goes stale."""
    host, port = settings.smtp_host, settings.smtp_port_effective
    label = f"{host}:{port}"
    with smtp_errors(label):
        smtp: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=settings.timeout, context=tls_context(settings.tls_ca_file)
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.timeout)
        try:
            smtp.ehlo()
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=tls_context(settings.tls_ca_file))
                smtp.ehlo()
            if credentials is not None:
                smtp.login(credentials[0], credentials[1].get_secret_value())
            smtp.send_message(msg, from_addr=settings.address, to_addrs=[recipient])
        finally:
            _quiet_quit(smtp)  # a failed QUIT after an accepted message must not cause a resend
    log.debug("SMTP %s accepted %s", label, msg["Message-ID"])


def _quiet_quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
