"""Logging: text or JSON lines, and a filter that masks secret values and customers' e-mail
addresses wherever they appear in a record (message, arguments, traceback).

Addresses are masked in logs only: log files are kept by the operator's log system, where
`socialbot forget` cannot erase them. The database keeps the whole address (an outbox row's
error, a `send_failed` event), which `forget` and the retention purge do erase."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from datetime import UTC, datetime

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|CREDENTIAL)", re.I)
MASK = "***"


def secret_values() -> list[str]:
    """Values of environment variables whose names say they are secrets."""
    return sorted(
        (v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 6),
        key=len,
        reverse=True,
    )


# An e-mail address in free text (SMTP replies, reprs of exceptions and dicts, headers): a
# local part of RFC 5322 atext and dots starting with a word character, or a quoted one, at
# most 64 characters (which also bounds the work on long lines), and a dotted domain whose
# last label starts with a letter ("user@localhost", "pkg@1.2", "@decorator" are left alone).
# A URL's "user@" or "user:password@" is matched first and kept: it is no customer's address,
# and its password is masked as a secret. A Message-ID ("<abc123@mail.example.org>") has the
# shape of an address and is masked too.
_ADDRESS = re.compile(
    r"(?P<url>[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s/?#@]{0,255}@)"
    r"|(?P<local>\w[\w.!#$%&'*+/=?^`{|}~-]{0,63}|\"[^\"\r\n]{1,64}\")"
    r"@(?P<domain>(?:\w[\w-]{0,62}\.){1,10}[^\W\d_][\w-]{0,62})"
)


def mask_addresses(text: str) -> str:
    """``jane.doe@example.org`` -> ``j***@example.org``: the first character and the domain let
    an operator tell customers apart and match a line to a mailbox, no more."""
    if "@" not in text:
        return text
    return _ADDRESS.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    if match["url"]:
        return match[0]
    first = match["local"].lstrip('"')[:1]
    return f"{first}{MASK}@{match['domain']}"


class RedactSecrets(logging.Filter):
    """Replaces any secret value in a record's final message (and traceback) with ***."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: print it masked, not raise in the caller
            message = f"{record.msg} (unformattable arguments: {record.args!r})"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class RedactLogs(RedactSecrets):
    """The log handler's filter: secrets and customers' e-mail addresses. ``RedactSecrets``
    alone masks secrets only, for what is stored or shown to staff (which keeps addresses)."""

    def redact(self, text: str) -> str:
        return mask_addresses(super().redact(text))


class CancelledPoolReset(logging.Filter):
    """SQLAlchemy's pool logs an ERROR with a traceback when a task cancelled at shutdown is
    returning its connection: the rollback that resets it is interrupted too. The pool then
    discards the connection (nothing is lost: the transaction was not committed), so one
    INFO line says so instead of a traceback that looks like a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.name.startswith("sqlalchemy.pool") and isinstance(exc, asyncio.CancelledError):
            record.msg, record.args = (
                "a database connection was discarded: its reset was interrupted by a "
                "cancellation (shutting down); nothing uncommitted is kept",
                None,
            )
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CancelledPoolReset())
    handler.addFilter(RedactLogs(secret_values()))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiosqlite", "sqlalchemy.engine", "alembic", "discord", "urllib3", "prawcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
