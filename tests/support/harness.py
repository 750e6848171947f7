"""Drive the real daemon in tests: a fake connector, a throwaway SQLite file, one call.

fake = FakeConnector()
fake.push(message("my order never arrived", id="1"))
stats = await run_once(make_config(tmp_path), [fake])
assert fake.sent[0].in_reply_to == "1"
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import Config, parse_config
from bot.daemon import Daemon
from bot.errors import ConnectorError
from bot.stats import RunStats
from connectors.base import (
    Author,
    BaseConnector,
    ConnectorContext,
    ConnectorSettings,
    Cursor,
    CursorStore,
    Inbound,
    Kind,
    Outbound,
    SentRef,
)
from responders.scoring import Scorer
from storage.db import Database
from storage.models import Base


class _NoCursors:
    async def get_cursor(self, channel: str, key: str) -> str | None:
        return None


class FakeConnector(BaseConnector):
    """A platform in memory: push messages in, read what the bot sent out.

    Its cursor is a sequence number, so a restarted daemon resumes after the last stored one,
    as a real platform's since_id would.
    """

    def __init__(
        self, name: str = "fake", max_length: int = 280, cursors: CursorStore | None = None
    ) -> None:
        super().__init__(ConnectorSettings(), ConnectorContext(name, cursors or _NoCursors()))
        self.max_length = max_length
        self.inbox: list[Inbound] = []
        self.sent: list[Outbound] = []
        self.committed_ids: list[str] = []
        self.fail_sends: list[Exception] = []  # raised by the next send() calls, in order
        self._arrived = asyncio.Event()

    def push(self, *items: Inbound) -> None:
        for item in items:
            seq = len(self.inbox)
            self.inbox.append(_with(item, channel=self.name, cursor=Cursor("seq", str(seq))))
        self._arrived.set()

    def bind(self, cursors: CursorStore) -> None:
        self.ctx = ConnectorContext(self.name, cursors)

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        done = await self.ctx.cursors.get_cursor(self.name, "seq")
        position = int(done) + 1 if done is not None else 0
        while True:
            while position < len(self.inbox):
                yield self.inbox[position]
                position += 1
            if not follow:
                return
            self._arrived.clear()
            await self._arrived.wait()

    async def committed(self, item: Inbound) -> None:
        self.committed_ids.append(item.external_id)

    async def send(self, reply: Outbound) -> SentRef:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        if len(reply.text) > self.max_length:
            raise ConnectorError(f"reply longer than {self.max_length}")
        self.sent.append(reply)
        return SentRef(external_id=f"{self.name}-out-{len(self.sent)}")

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        for number, sent in enumerate(self.sent, start=1):
            if sent.idempotency_key == reply.idempotency_key:
                return SentRef(external_id=f"{self.name}-out-{number}")
        return None


def _with(item: Inbound, **changes: Any) -> Inbound:
    from dataclasses import replace

    return replace(item, **changes)


def message(
    text: str,
    *,
    id: str,
    author: str = "alice",
    kind: Kind = Kind.MENTION,
    thread: str | None = None,
    is_bot: bool = False,
    is_self: bool = False,
    channel: str = "fake",
) -> Inbound:
    return Inbound(
        channel=channel,
        kind=kind,
        external_id=id,
        thread=thread or id,
        author=Author(id=f"uid-{author}", handle=author, is_bot=is_bot, is_self=is_self),
        text=text,
        created_at=datetime.now(UTC),
    )


def make_config(tmp_path: Path, **sections: Any) -> Config:
    raw: dict[str, Any] = {
        "bot": {
            "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "outbox_poll_seconds": 0.05,
            "drain_timeout_seconds": 10,
        }
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return parse_config(raw, "test-config")


async def run_once(config: Config, connectors: list[Any], scorer: Scorer | None = None) -> RunStats:
    """One `socialbot run --once` with these connectors; fakes read cursors from the DB."""
    daemon = Daemon(config, connectors=connectors, scorer=scorer)
    for connector in connectors:
        if isinstance(connector, FakeConnector):
            connector.bind(daemon.storage.inbound)
    return await daemon.run(once=True, install_signals=False)


async def count_rows(config: Config, model: type[Base], **where: Any) -> int:
    db = Database(config.database_url)
    try:
        async with db.session() as session:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return int(await session.scalar(query) or 0)
    finally:
        await db.close()
