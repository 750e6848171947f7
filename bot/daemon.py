"""The daemon: wires storage, queue, workers, sender and connectors, and runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.config import Config
from bot.ingest import Ingest
from bot.queue import MemoryQueue, WorkQueue
from bot.registry import build_connectors
from bot.sender import Sender
from bot.stats import RunStats
from bot.worker import Worker
from connectors.base import Connector
from responders.calendar import BusinessCalendar
from responders.routing import Router
from responders.scoring import Scorer, TextBlobScorer
from responders.templates import Templates
from storage.db import Database, retrying
from storage.decisions import DecisionRepo
from storage.inbound import InboundRepo
from storage.outbox import OutboxRepo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Storage:
    db: Database
    inbound: InboundRepo
    decisions: DecisionRepo
    outbox: OutboxRepo

    @classmethod
    def open(cls, url: str) -> Storage:
        db = Database(url)
        return cls(db, InboundRepo(db), DecisionRepo(db), OutboxRepo(db))


class Service(Protocol):
    """A background part of the daemon (scheduler, dashboard, metrics): runs until cancelled."""

    name: str

    async def run(self) -> None: ...


# Builds the optional services from the config once storage and connectors exist.
ServiceFactory = Callable[["Daemon"], Sequence[Service]]


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        connectors: list[Connector] | None = None,
        scorer: Scorer | None = None,
        queue: WorkQueue | None = None,
        services: ServiceFactory | None = None,
    ) -> None:
        self.config = config
        self.storage = Storage.open(config.database_url)
        self.connectors = (
            connectors if connectors is not None else build_connectors(config, self.storage.inbound)
        )
        self.stats = RunStats()
        self.queue = queue or MemoryQueue(config.queue.maxsize)
        self.sender = Sender(
            self.storage.outbox,
            {c.name: c for c in self.connectors},
            self.stats,
            max_attempts=config.bot.send_max_attempts,
            poll_seconds=config.bot.outbox_poll_seconds,
            rates=config.bot.send_rate_overrides,
        )
        self.worker = Worker(
            inbound=self.storage.inbound,
            decisions=self.storage.decisions,
            scorer=scorer or TextBlobScorer(),
            router=Router(config.routing),
            templates=Templates(config.replies),
            calendar=BusinessCalendar(config.calendar),
            tickets=config.tickets,
            connector_limits={c.name: c.max_length for c in self.connectors},
            stats=self.stats,
            on_reply=self.sender.wake,
        )
        self._stop = asyncio.Event()
        self.services: list[Service] = list(services(self)) if services else []

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        if self.config.bot.auto_migrate:
            await self.storage.db.upgrade()
        await self.sender.reconcile()

    async def run(self, *, once: bool = False, install_signals: bool = True) -> RunStats:
        """Run until SIGTERM/SIGINT (or, with ``once``, until everything available is done)."""
        if install_signals:
            self._install_signals()
        await self.start()
        workers = [
            asyncio.create_task(self._work(), name=f"worker-{i}")
            for i in range(self.config.bot.workers)
        ]
        try:
            await self._requeue_unprocessed()
            if once:
                await self._run_once()
            else:
                await self._run_forever()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self._close()
        return self.stats

    async def _run_once(self) -> None:
        ingests = [Ingest(c, self.storage.inbound, self.queue, self.stats) for c in self.connectors]
        await asyncio.gather(*(i.run(follow=False) for i in ingests))
        await self.queue.join()
        await self.sender.flush(self.config.bot.drain_timeout_seconds)

    async def _run_forever(self) -> None:
        tasks = [
            asyncio.create_task(
                Ingest(c, self.storage.inbound, self.queue, self.stats).run(follow=True),
                name=f"ingest-{c.name}",
            )
            for c in self.connectors
        ]
        sender = asyncio.create_task(self.sender.run(), name="sender")
        tasks += [asyncio.create_task(s.run(), name=s.name) for s in self.services]
        log.info(
            "socialbot running with %d connector(s): %s",
            len(self.connectors),
            ", ".join(c.name for c in self.connectors) or "none",
        )
        await self._stop.wait()
        log.info("stopping: no new messages are read; draining the queue")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), self.config.bot.drain_timeout_seconds)
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await self.sender.flush(self.config.bot.drain_timeout_seconds)

    async def _requeue_unprocessed(self) -> None:
        pending = await self.storage.inbound.unprocessed()
        if pending:
            log.info("re-queueing %d stored but unprocessed message(s)", len(pending))
        for interaction_id in pending:
            await self.queue.put(interaction_id)

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._handle(job.interaction_id)
            except Exception:
                # A bug, not the database: the message stays `pending`, retried on next start.
                log.exception("worker failed on interaction=%s", job.interaction_id)
            finally:
                await self.queue.done(job)

    async def _handle(self, interaction_id: int) -> None:
        """A locked, full or unreachable database is waited out, so a long-running daemon
        never strands a stored message as `pending` until its next restart."""
        async for attempt in retrying(f"processing interaction={interaction_id}", self._db_retry):
            with attempt:
                await self.worker.handle(interaction_id)

    def _db_retry(self) -> None:
        self.stats.database_retries += 1

    async def _close(self) -> None:
        for connector in self.connectors:
            try:
                await connector.close()
            except Exception:
                log.exception("closing connector %s failed", connector.name)
        await self.queue.close()
        await self.storage.db.close()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
