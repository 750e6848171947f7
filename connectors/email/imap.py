"""A blocking IMAP session (stdlib imaplib); every method runs in a worker thread.

The session connects lazily and forgets its connection on any transport error, so the caller's
retry simply calls the method again and gets a fresh, logged-in, selected connection. Errors
leave as the bot's own classes: a refused login is an :class:`AuthError` (retrying cannot help),
a dropped connection or a timeout a :class:`TransientError`.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import SecretStr

from bot.errors import AuthError, ConnectorError, TransientError
from connectors.email.settings import EmailSettings
from connectors.email.types import FetchedMessage, MailboxState

log = logging.getLogger(__name__)

Credentials = Callable[[], tuple[str, SecretStr]]

_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def quote(value: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verified TLS; a private CA can be added (tests, company relays), never verification off."""
    return ssl.create_default_context(cafile=ca_file)


@contextmanager
def imap_errors(what: str, host: str) -> Iterator[None]:
    """Translate imaplib/socket failures into the bot's error classes, without secrets."""
    try:
        yield
    except imaplib.IMAP4.abort as exc:  # before IMAP4.error: abort is its subclass
        raise TransientError(f"IMAP connection to {host} lost during {what}") from exc
    except imaplib.IMAP4.error as exc:
        raise ConnectorError(f"IMAP {what} refused by {host}: {str(exc)[:200]}") from exc
    except UnicodeEncodeError as exc:  # imaplib sends arguments as ASCII
        raise ConnectorError(f"IMAP {what}: non-ASCII argument cannot be sent") from exc
    except ssl.SSLCertVerificationError as exc:
        raise ConnectorError(
            f"TLS certificate of {host} not trusted: {exc.verify_message}"
        ) from exc
    except (TimeoutError, OSError, EOFError) as exc:  # ssl.SSLError is an OSError
        raise TransientError(f"IMAP {what} with {host} failed: {type(exc).__name__}") from exc


class ImapSession:
    """One connection, one selected mailbox. Not thread-safe: the caller serialises calls."""

    def __init__(
        self,
        settings: EmailSettings,
        credentials: Credentials,
        mailbox: str,
        *,
        readonly: bool = False,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self.mailbox = mailbox
        self._readonly = readonly
        self._lock = threading.RLock()  # held by the worker thread for a whole command
        self._conn: imaplib.IMAP4 | None = None
        self.state: MailboxState | None = None  # set by SELECT, cleared with the connection
        self.host = f"{settings.imap_host}:{settings.imap_port_effective}"

    # -- connection -------------------------------------------------------------------------

    def _open(self) -> imaplib.IMAP4:
        s = self._settings
        port, timeout = s.imap_port_effective, s.timeout
        if s.imap_tls == "ssl":
            return imaplib.IMAP4_SSL(
                s.imap_host, port, ssl_context=tls_context(s.tls_ca_file), timeout=timeout
            )
        conn = imaplib.IMAP4(s.imap_host, port, timeout=timeout)
        if s.imap_tls == "starttls":
            conn.starttls(ssl_context=tls_context(s.tls_ca_file))
        return conn

    def connect(self) -> imaplib.IMAP4:
        """Return the live connection, opening and logging in when there is none."""
        if self._conn is not None:
            return self._conn
        user, password = self._credentials()
        with imap_errors("connect", self.host):
            conn = self._open()
        try:
            conn.login(user, password.get_secret_value())
        except imaplib.IMAP4.abort as exc:
            _quiet_logout(conn)
            raise TransientError(f"IMAP connection to {self.host} lost during login") from exc
        except imaplib.IMAP4.error as exc:
            _quiet_logout(conn)
            raise AuthError(
                f"IMAP login to {self.host} refused ({str(exc)[:120]}): check the username and "
                f"app password in ${self._settings.imap_username_env} / "
                f"${self._settings.imap_password_env}"
            ) from None
        except (TimeoutError, OSError) as exc:
            _quiet_logout(conn)
            raise TransientError(f"IMAP login to {self.host} failed: {type(exc).__name__}") from exc
        log.debug("IMAP logged in to %s", self.host)
        self._conn, self.state = conn, None
        return conn

    def close(self) -> None:
        """Log out if possible; forget the connection either way."""
        with self._lock:
            conn, self._conn, self.state = self._conn, None, None
        if conn is not None:
            _quiet_logout(conn)

    def drop(self) -> None:
        """Forget a connection that failed, without the courtesy of a LOGOUT round trip."""
        with self._lock:
            conn, self._conn, self.state = self._conn, None, None
        if conn is not None:
            with suppress(OSError, imaplib.IMAP4.error):
                conn.shutdown()

    @contextmanager
    def _call(self, what: str, *, selected: bool = True) -> Iterator[imaplib.IMAP4]:
        """A live connection (with our mailbox selected unless told otherwise).

        The lock is a thread lock, held by the worker thread: an asyncio lock would be released
        when the awaiting task is cancelled while the thread still talks to the server.
        """
        with self._lock:
            conn = self.connect()
            try:
                with imap_errors(what, self.host):
                    if selected and self.state is None:
                        self.state = self._select(conn)
                    yield conn
            except TransientError:
                self.drop()
                raise

    # -- mailbox ----------------------------------------------------------------------------

    def select(self) -> MailboxState:
        """Re-issue SELECT so new mail and a changed UIDVALIDITY become visible."""
        with self._call(f"select {self.mailbox!r}", selected=False) as conn:
            self.state = self._select(conn)
        return self.state

    def _select(self, conn: imaplib.IMAP4) -> MailboxState:
        typ, data = conn.select(quote(self.mailbox), readonly=self._readonly)
        if typ != "OK":
            raise ConnectorError(f"IMAP mailbox {self.mailbox!r} on {self.host}: {_text(data)}")
        validity = _response_int(conn, "UIDVALIDITY")
        uidnext = _response_int(conn, "UIDNEXT")
        if validity is None:
            raise ConnectorError(
                f"IMAP server {self.host} sent no UIDVALIDITY for {self.mailbox!r}"
            )
        return MailboxState(validity, uidnext, int(_text(data) or 0))

    def search(self, *criteria: str) -> list[int]:
        with self._call("search") as conn:
            typ, data = conn.uid("SEARCH", *criteria)
            if typ != "OK":
                raise ConnectorError(f"IMAP search refused by {self.host}: {_text(data)}")
        return sorted({int(n) for chunk in data if chunk for n in bytes(chunk).split()})

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` ("N:*" always matches the newest message: filter it)."""
        return [uid for uid in self.search("UID", f"{last_uid + 1}:*") if uid > last_uid]

    def fetch(self, uid: int, max_bytes: int) -> FetchedMessage | None:
        """Fetch without setting \\Seen; None when the message was expunged meanwhile.

        The result carries the UIDVALIDITY it was fetched under: a caller that searched under
        another one (the connection was re-made in between) must discard it and re-scan.
        """
        with self._call(f"fetch uid {uid}") as conn:
            assert self.state is not None
            validity = self.state.uidvalidity
            typ, data = conn.uid("FETCH", str(uid), "(UID RFC822.SIZE INTERNALDATE FLAGS)")
            info = b" ".join(_prefix(item) for item in data if item)
            if typ != "OK" or not info:
                return None
            size = int(m.group(1)) if (m := _SIZE.search(info)) else 0
            header_only = size > max_bytes
            part = "BODY.PEEK[HEADER]" if header_only else "BODY.PEEK[]"
            typ, data = conn.uid("FETCH", str(uid), f"({part})")
            raw = _literal(data)
        if typ != "OK" or raw is None:
            return None
        flags = (
            frozenset(m.group(1).decode().split()) if (m := _FLAGS.search(info)) else frozenset()
        )
        return FetchedMessage(
            uid, validity, raw, size or len(raw), _internaldate(info), flags, header_only
        )

    def flags(self, uid: int) -> frozenset[str]:
        with self._call(f"flags uid {uid}") as conn:
            _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        info = b" ".join(_prefix(item) for item in data if item)
        return frozenset(m.group(1).decode().split()) if (m := _FLAGS.search(info)) else frozenset()

    def mark_seen(self, uid: int, uidvalidity: int) -> bool:
        """Set \\Seen; False (and nothing done) when the UID belongs to an older UIDVALIDITY."""
        with self._call(f"store uid {uid}") as conn:
            if self.state is None or self.state.uidvalidity != uidvalidity:
                return False
            typ, data = conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)")
            if typ != "OK":
                raise ConnectorError(f"IMAP could not set \\Seen on {self.host}: {_text(data)}")
        return True

    def header_of(self, uid: int) -> bytes | None:
        with self._call(f"fetch header uid {uid}") as conn:
            typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
        return _literal(data) if typ == "OK" else None

    def append(self, mailbox: str, raw: bytes, flags: str = r"(\Seen)") -> None:
        """APPEND (the Sent copy); create the mailbox once when the server says TRYCREATE."""
        stamp = imaplib.Time2Internaldate(time.time())
        with self._call(f"append to {mailbox!r}", selected=False) as conn:
            typ, data = conn.append(quote(mailbox), flags, stamp, raw)
            if typ != "OK" and b"TRYCREATE" in b" ".join(_prefix(d) for d in data if d):
                conn.create(quote(mailbox))
                typ, data = conn.append(quote(mailbox), flags, stamp, raw)
            if typ != "OK":
                raise ConnectorError(f"IMAP append to {mailbox!r} refused: {_text(data)}")

    def find_message_id(self, message_id: str) -> int | None:
        """UID of the message with this Message-ID in our mailbox, or None."""
        if not message_id.isascii():
            return None
        self.select()  # see what arrived since the last SELECT (our own APPENDs included)
        found = self.search("HEADER", "Message-ID", quote(message_id))
        return found[-1] if found else None


def _quiet_logout(conn: imaplib.IMAP4) -> None:
    with suppress(OSError, imaplib.IMAP4.error):
        conn.logout()


def _prefix(item: Any) -> bytes:
    return bytes(item[0]) if isinstance(item, tuple) else bytes(item)


def _literal(data: list[Any]) -> bytes | None:
    for item in data:
        if isinstance(item, tuple) and b"BODY[" in bytes(item[0]):
            return bytes(item[1])
    return None


def _text(data: list[Any]) -> str:
    return b" ".join(_prefix(d) for d in data if d).decode("utf-8", "replace")[:200]


def _response_int(conn: imaplib.IMAP4, name: str) -> int | None:
    _, values = conn.response(name)
    for value in reversed(values or []):
        if value and bytes(value).strip().isdigit():
            return int(bytes(value).strip())
    return None


def _internaldate(info: bytes) -> datetime | None:
    """'25-Nov-2026 12:27:20 +0000' → aware UTC; month names parsed without the locale."""
    found = _INTERNALDATE.search(info)
    if not found:
        return None
    try:
        date, clock, zone = found.group(1).decode().split()
        day, month, year = date.split("-")
        hour, minute, second = (int(p) for p in clock.split(":"))
        sign = -1 if zone.startswith("-") else 1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
        stamp = datetime(
            int(year), _MONTHS[month], int(day), hour, minute, second, tzinfo=timezone(offset)
        )
    except (ValueError, KeyError, IndexError):
        return None
    return stamp.astimezone(UTC)
