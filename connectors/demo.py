"""The demo connector: replays bundled sample messages; replies are printed and stored.

It needs no credentials and no network, so `socialbot run --demo` shows the whole pipeline
on a fresh machine. Its cursor is the line number, so a restart continues where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, TextIO

from pydantic import Field

from connectors.base import (
    Author,
    BaseConnector,
    ConnectorContext,
    ConnectorSettings,
    Cursor,
    Inbound,
    Kind,
    Outbound,
    SentRef,
)

CURSOR_KEY = "line"


class DemoSettings(ConnectorSettings):
    file: Path | None = None  # a JSONL of messages; None: the bundled sample
    our_handle: str = "AcmeCare"
    interval_seconds: float = Field(0.0, ge=0)  # pause between messages when following
    echo: bool = True  # print replies to the terminal
    # Where the simulated platform remembers what was posted (JSONL), so that a restarted
    # daemon can ask it what was already sent (find_sent) instead of posting twice.
    sent_log: Path | None = None


class DemoConnector(BaseConnector):
    settings_model: ClassVar[type[ConnectorSettings]] = DemoSettings
    max_length = 280

    def __init__(
        self, settings: DemoSettings, ctx: ConnectorContext, out: TextIO | None = None
    ) -> None:
        super().__init__(settings, ctx)
        self.settings: DemoSettings = settings
        self.out = out or sys.stdout
        self.sent: list[Outbound] = []

    def _lines(self) -> list[dict[str, Any]]:
        if self.settings.file is not None:
            text = self.settings.file.read_text(encoding="utf-8")
        else:
            text = (
                resources.files("connectors")
                .joinpath("data/demo_messages.jsonl")
                .read_text(encoding="utf-8")
            )
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _parse(self, number: int, entry: dict[str, Any], now: datetime) -> Inbound:
        handle = str(entry["author"])
        return Inbound(
            channel=self.name,
            kind=Kind(entry.get("kind", "mention")),
            external_id=str(entry["id"]),
            thread=str(entry.get("thread", entry["id"])),
            author=Author(
                id=f"user-{handle.lower()}",
                handle=handle,
                is_bot=bool(entry.get("author_is_bot", False)),
                is_self=handle.lower() == self.settings.our_handle.lower(),
            ),
            text=str(entry["text"]),
            created_at=now - timedelta(minutes=float(entry.get("minutes_ago", 0))),
            cursor=Cursor(CURSOR_KEY, str(number)),
        )

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        done = await self.ctx.cursors.get_cursor(self.name, CURSOR_KEY)
        start = int(done) + 1 if done else 0
        now = datetime.now(UTC)
        for number, entry in enumerate(self._lines()):
            if number < start:
                continue
            yield self._parse(number, entry, now)
            self._health.success()
            if follow and self.settings.interval_seconds:
                await asyncio.sleep(self.settings.interval_seconds)
        if follow:
            await asyncio.Event().wait()  # a live platform: nothing more until stopped

    def _posted(self) -> dict[str, str]:
        log = self.settings.sent_log
        if log is None or not log.exists():
            return {}
        posted = {}
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                posted[entry["key"]] = entry["id"]
        return posted

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        found = self._posted().get(reply.idempotency_key)
        return SentRef(external_id=found) if found else None

    async def send(self, reply: Outbound) -> SentRef:
        ref = SentRef(external_id=f"demo-reply-{reply.idempotency_key}")
        self.sent.append(reply)
        if self.settings.sent_log is not None:
            self.settings.sent_log.parent.mkdir(parents=True, exist_ok=True)
            entry = {
                "key": reply.idempotency_key,
                "id": ref.external_id,
                "in_reply_to": reply.in_reply_to,
                "thread": reply.thread,
            }
            with self.settings.sent_log.open("a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")
        if self.settings.echo:
            where = f"in reply to {reply.in_reply_to}" if reply.kind != Kind.DM else "by DM"
            print(f"  -> [{self.name}] {where}: {reply.text}", file=self.out, flush=True)
        return ref
