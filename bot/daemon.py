"""The daemon: wires storage, queue, workers, sender and connectors, and runs them.

Roles (``socialbot run --role``) split it across processes and hosts when the queue is
shared (Redis): ``ingest`` reads the connectors, stores and queues (and runs the optional
services); ``worker`` scores, routes, writes decisions and sends replies; ``all`` is both,
in one process (the default, and the only choice with the in-memory queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, Protocol

from bot.config import Config
from bot.errors import ConfigError
from bot.ingest import Ingest
from bot.queue import Job, MemoryQueue, WorkQueue, build_queue
from bot.registry import build_connectors
from bot.scoring_pool import build_scoring
from bot.sender import Sender
from bot.stats import RunStats
from bot.worker import Worker
from connectors.base import Connector
from responders.calendar import BusinessCalendar
from responders.routing import Router
from responders.scoring import Scorer
from responders.templates import Templates
from responders.triage.settings import build_scorer
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
Role = Literal["all", "ingest", "worker"]
ROLES: tuple[Role, ...] = ("all", "ingest", "worker")
REQUEUE_PAGE = 1000


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        connectors: list[Connector] | None = None,
        scorer: Scorer | None = None,
        queue: WorkQueue | None = None,
        services: ServiceFactory | None = None,
        role: Role = "all",
    ) -> None:
        if role not in ROLES:
            raise ConfigError(f"--role {role!r}: use one of {', '.join(ROLES)}")
        if role != "all" and queue is None and config.queue.backend == "memory":
            raise ConfigError(
                f"--role {role} needs a queue shared between processes: "
                'set [queue] backend = "redis" (the memory queue lives in one process)'
            )
        self.config = config
        self.role = role
        self.storage = Storage.open(config.database_url)
        self.storage.outbox.lease = timedelta(seconds=config.queue.send_lease_seconds)
        self.connectors = (
            connectors if connectors is not None else build_connectors(config, self.storage.inbound)
        )
        self.stats = RunStats()
        self.queue = queue or build_queue(config.queue)
        self.sender = Sender(
            self.storage.outbox,
            {c.name: c for c in self.connectors},
            self.stats,
            max_attempts=config.bot.send_max_attempts,
            poll_seconds=config.bot.outbox_poll_seconds,
            rates=config.bot.send_rate_overrides,
        )
        scorer = scorer or build_scorer(config.triage)
        processes = config.bot.scoring_processes if role != "ingest" else 0
        self.worker = Worker(
            inbound=self.storage.inbound,
            decisions=self.storage.decisions,
            scorer=scorer,
            scoring=build_scoring(scorer, processes),
            router=Router(config.routing),
            templates=Templates(config.replies),
            calendar=BusinessCalendar(config.calendar),
            tickets=config.tickets,
            connector_limits={c.name: c.max_length for c in self.connectors},
            stats=self.stats,
            on_reply=self.sender.wake,
        )
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()  # batches being processed
        # Services (scheduler, desk, health...) run once per deployment: with ingest.
        wants_services = services is not None and role != "worker"
        self.services: list[Service] = list(services(self)) if services and wants_services else []

    def request_stop(self) -> None:
        self._stop.set()

    async def start(self) -> None:
        if self.config.bot.auto_migrate:
            await self.storage.db.upgrade()
        await self.worker.scoring.start()
        if self.role != "ingest":  # replies are the workers' business
            # An in-process queue means one daemon, the only sender: every row left `sending`
            # is a dead process's, even while its lease still runs (a quick restart).
            await self.sender.reconcile(leased_too=isinstance(self.queue, MemoryQueue))

    async def run(self, *, once: bool = False, install_signals: bool = True) -> RunStats:
        """Run until SIGTERM/SIGINT (or, with ``once``, until everything available is done)."""
        if install_signals:
            self._install_signals()
        await self.start()
        count = self.config.bot.workers if self.role != "ingest" else 0
        workers = [asyncio.create_task(self._work(), name=f"worker-{i}") for i in range(count)]
        try:
            if self.role != "worker":
                await self._requeue_unprocessed()
            if once:
                await self._run_once()
            else:
                await self._run_forever()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if self._inflight:  # let batches being written finish (their jobs get acked)
                await asyncio.wait(self._inflight, timeout=self.config.bot.drain_timeout_seconds)
            await self._close()
        return self.stats

    def _ingests(self) -> list[Ingest]:
        if self.role == "worker":
            return []
        grace = self.config.bot.drain_timeout_seconds
        return [
            Ingest(c, self.storage.inbound, self.queue, self.stats, stop_grace=grace)
            for c in self.connectors
        ]

    async def _run_once(self) -> None:
        # Replies go out while the backlog is processed, not all at the end.
        sender = None
        if self.role != "ingest":
            sender = asyncio.create_task(self.sender.run(), name="sender")
        await asyncio.gather(*(i.run(follow=False) for i in self._ingests()))
        if sender is None:
            return  # stored and queued: the workers (elsewhere) take it from here
        await self.queue.join()
        for service in self.services:  # one pass of periodic work (SLA clock) for cron runs
            tick = getattr(service, "tick", None)
            if tick is not None:
                await tick()
        self.sender.stop()
        await sender
        await self.sender.flush(self.config.bot.drain_timeout_seconds)

    async def _run_forever(self) -> None:
        tasks = [
            asyncio.create_task(ingest.run(follow=True), name=f"ingest-{ingest.connector.name}")
            for ingest in self._ingests()
        ]
        sender = None
        if self.role != "ingest":
            sender = asyncio.create_task(self.sender.run(), name="sender")
        tasks += [asyncio.create_task(s.run(), name=s.name) for s in self.services]
        log.info(
            "socialbot running (role %s) with %d connector(s): %s",
            self.role,
            len(self.connectors),
            ", ".join(c.name for c in self.connectors) or "none",
        )
        await self._stop.wait()
        log.info("stopping: no new messages are read; draining the queue")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if sender is None:
            return
        if self.role == "all":  # our own queue: finish it. A shared one is left to others.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.bot.drain_timeout_seconds):
                    await self.queue.join()
        self.sender.stop()
        try:  # a send stuck in a platform's rate-limit wait must not hold shutdown forever
            async with asyncio.timeout(self.config.bot.drain_timeout_seconds):
                await sender
        except TimeoutError:
            log.warning("sender did not finish in time; unsent replies stay in the outbox")
        except Exception:
            log.exception("sender failed while stopping; unsent replies stay in the outbox")
        await self.sender.flush(self.config.bot.drain_timeout_seconds)

    async def _requeue_unprocessed(self) -> None:
        """Stored but not processed (a crash between store and queue): queue them again.

        With Redis some may still be in the stream; a second delivery is a no-op (the
        worker's claim finds the message no longer pending)."""
        after, total = 0, 0
        while page := await self.storage.inbound.unprocessed(after, REQUEUE_PAGE):
            await self.queue.put_many(page)
            after, total = page[-1], total + len(page)
        if total:
            log.info("re-queued %d stored but unprocessed message(s)", total)

    async def _work(self) -> None:
        """Take a batch, process it (shielded: a stop lets a batch being written finish)."""
        while True:
            jobs = await self.queue.get_many(self.config.queue.batch_size)
            task = asyncio.create_task(self._process(jobs))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            await asyncio.shield(task)

    async def _process(self, jobs: list[Job]) -> None:
        try:
            await self._handle([job.interaction_id for job in jobs])
        except Exception:
            if len(jobs) > 1:  # find the culprit: one by one, the others still go through
                log.warning("a batch of %d failed; processing it one by one", len(jobs))
                for job in jobs:
                    await self._process([job])
                return
            # A bug, not the database: the message stays `pending`; the queue decides
            # about another delivery (memory: next start; Redis: claim, then dead-letter).
            log.exception("worker failed on interaction=%s", jobs[0].interaction_id)
            await self.queue.failed(jobs)
        else:
            await self.queue.done_many(jobs)

    async def _handle(self, interaction_ids: list[int]) -> None:
        """A locked, full or unreachable database is waited out, so a long-running daemon
        never strands a stored message as `pending` until its next restart."""
        what = f"processing {len(interaction_ids)} message(s) from interaction={interaction_ids[0]}"
        async for attempt in retrying(what, self._db_retry):
            with attempt:
                await self.worker.handle_many(interaction_ids)

    def _db_retry(self) -> None:
        self.stats.database_retries += 1

    async def _close(self) -> None:
        for connector in self.connectors:
            try:
                await connector.close()
            except Exception:
                log.exception("closing connector %s failed", connector.name)
        await self.queue.close()
        await asyncio.to_thread(self.worker.scoring.close)
        await self.storage.db.close()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
