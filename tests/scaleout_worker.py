"""A worker process for the scale-out tests: the real Daemon(role="worker"), recording.

    python -m tests.scaleout_worker CONFIG.toml RECORD_DIR

It writes what it scored (one text per line) and what it sent ("in_reply_to key" per line)
to files named after its pid, so a test can prove no message was delivered to two workers
and none was lost. HANG_ON=<text> makes its scorer stop dead on a message containing that
text (the event loop blocked, nothing acknowledged): a worker to kill in the middle of a
batch. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bot.config import load_config
from bot.daemon import Daemon
from connectors.base import (
    BaseConnector,
    ConnectorContext,
    ConnectorSettings,
    Inbound,
    Outbound,
    SentRef,
)
from responders.scoring import Scores
from tests.support.stub_scorer import StubScorer


class _NoCursors:
    async def get_cursor(self, channel: str, key: str) -> str | None:
        return None


class RecordingScorer(StubScorer):
    def __init__(self, log: Path, hang_on: str | None) -> None:
        self.log = log
        self.hang_on = hang_on

    def score(self, text: str) -> Scores:
        with self.log.open("a", encoding="utf-8") as out:
            out.write(text.replace("\n", " ") + "\n")
        if self.hang_on and self.hang_on in text:
            (self.log.parent / f"hanging-{os.getpid()}").touch()
            while True:  # dead in the middle of a batch: killed from outside
                time.sleep(1)
        return super().score(text)


class RecordingPlatform(BaseConnector):
    max_length = 280

    def __init__(self, log: Path) -> None:
        super().__init__(ConnectorSettings(), ConnectorContext("fake", _NoCursors()))
        self.log = log

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        return
        yield  # a worker never listens

    async def send(self, reply: Outbound) -> SentRef:
        with self.log.open("a", encoding="utf-8") as out:
            out.write(f"{reply.in_reply_to} {reply.idempotency_key}\n")
        return SentRef(external_id=f"out-{reply.idempotency_key}")

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        """Like a platform that can list our posts: any worker's send counts."""
        for log in self.log.parent.glob("sent-*.log"):
            if f" {reply.idempotency_key}\n" in log.read_text(encoding="utf-8"):
                return SentRef(external_id=f"out-{reply.idempotency_key}")
        return None


async def main(config_path: str, record_dir: str) -> None:
    record, pid = Path(record_dir), os.getpid()
    daemon = Daemon(
        load_config(config_path),
        connectors=[RecordingPlatform(record / f"sent-{pid}.log")],
        scorer=RecordingScorer(record / f"scored-{pid}.log", os.environ.get("HANG_ON")),
        role="worker",
    )
    (record / f"ready-{pid}").touch()
    await daemon.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
