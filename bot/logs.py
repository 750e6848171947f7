"""Logging: text or JSON lines, and a filter that masks secret values wherever they appear."""

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
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


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
    handler.addFilter(RedactSecrets(secret_values()))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiosqlite", "sqlalchemy.engine", "alembic", "discord", "urllib3", "prawcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
