"""The benchmark's platform: a backlog of generated messages and replies accepted at once.

The read time of each message travels with it (``Inbound.meta`` -> stored -> the outbox
row's meta -> ``Outbound.meta``), so the acknowledgement latency can be measured in
whichever process sends the reply, with no per-message memory in the connector.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import AsyncIterator

from bot.bench.messages import MessageGenerator
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

READ_AT = "bench_read_at"


class _NoCursors:
    async def get_cursor(self, channel: str, key: str) -> str | None:
        return None


class BenchConnector(BaseConnector):
    """``total`` messages are all available at once: the daemon must pace itself."""

    max_length = 280

    def __init__(
        self,
        total: int,
        generator: MessageGenerator | None = None,
        *,
        name: str = "bench",
        cursors: CursorStore | None = None,
    ) -> None:
        super().__init__(ConnectorSettings(), ConnectorContext(name, cursors or _NoCursors()))
        self.total = total
        self.generator = generator or MessageGenerator()
        self.read = 0
        self.sent = 0
        self.latencies = array("d")  # seconds from read to send, one per reply

    def bind(self, cursors: CursorStore) -> None:
        self.ctx = ConnectorContext(self.name, cursors)

    async def listen(self, *, follow: bool = True) -> AsyncIterator[Inbound]:
        done = await self.ctx.cursors.get_cursor(self.name, "seq")
        position = int(done) + 1 if done is not None else 0
        for seq in range(position, self.total):
            yield self._inbound(seq)
            self.read += 1
            if seq % 512 == 0:
                await asyncio.sleep(0)  # a real platform client yields on I/O
        if follow:
            await asyncio.Event().wait()

    def _inbound(self, seq: int) -> Inbound:
        msg = self.generator.get(seq)
        return Inbound(
            channel=self.name,
            kind=Kind.MENTION,
            external_id=str(seq),
            thread=msg.thread,
            author=Author(id=f"uid-{msg.author}", handle=msg.author, is_bot=msg.kind == "bot"),
            text=msg.text,
            created_at=msg.created_at,
            cursor=Cursor("seq", str(seq)),
            meta={READ_AT: f"{time.time():.6f}"},
        )

    async def send(self, reply: Outbound) -> SentRef:
        read_at = reply.meta.get(READ_AT)
        if read_at is not None:
            self.latencies.append(time.time() - float(read_at))
        self.sent += 1
        return SentRef(external_id=f"{self.name}-out-{reply.idempotency_key}")

    async def find_sent(self, reply: Outbound) -> SentRef | None:
        return None
