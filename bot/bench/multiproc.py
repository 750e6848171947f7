"""The scale-out run: this process ingests (``--role ingest``), K processes are workers.

Each worker process is a real ``Daemon(role="worker")`` reading the shared Redis stream
and writing to the shared database, with its own instance of the benchmark platform to
send replies to. The clock starts when every worker is up and stops when the database has
no pending message and no reply waiting to be sent.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from array import array
from multiprocessing.synchronize import Event as EventType
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from bot.bench.connector import BenchConnector
from bot.bench.messages import MessageGenerator
from bot.bench.resources import RssSampler
from bot.config import parse_config
from bot.daemon import Daemon
from storage.db import Database
from storage.models import Interaction, OutboxMessage

if TYPE_CHECKING:
    from bot.bench.runner import BenchOptions

log = logging.getLogger(__name__)

START_TIMEOUT = 180.0  # spawning K interpreters and loading the scorer, on a busy machine
POLL_SECONDS = 0.1


def run_with_worker_processes(
    raw: dict[str, Any], options: BenchOptions
) -> tuple[float, list[float], int]:
    """(seconds, latencies, peak RSS in bytes of this process and the workers together)."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    ready: multiprocessing.Queue[int] = ctx.Queue()
    results: multiprocessing.Queue[bytes] = ctx.Queue()
    workers = [
        ctx.Process(
            target=worker_main,
            args=(raw, stop, ready, results),
            name=f"bench-worker-{i}",
        )
        for i in range(options.worker_processes)
    ]
    for process in workers:
        process.start()
    try:
        for _ in workers:
            ready.get(timeout=START_TIMEOUT)
        with RssSampler(children=True) as rss:
            started = time.perf_counter()
            asyncio.run(_ingest_until_done(raw, options))
            elapsed = time.perf_counter() - started
            stop.set()
            latencies = array("d")
            for _ in workers:
                latencies.frombytes(results.get(timeout=START_TIMEOUT))
        return elapsed, list(latencies), rss.peak
    finally:
        stop.set()
        for process in workers:
            process.join(timeout=60)
            if process.is_alive():
                process.terminate()


async def _ingest_until_done(raw: dict[str, Any], options: BenchOptions) -> None:
    config = parse_config(raw, "socialbot-bench")
    connector = BenchConnector(options.messages, MessageGenerator(seed=options.seed))
    daemon = Daemon(config, connectors=[connector], role="ingest")
    connector.bind(daemon.storage.inbound)
    await daemon.run(once=True, install_signals=False)  # every message stored and queued
    db = Database(config.database_url)
    try:
        # Polled: the workers finishing are other processes; the database is the truth.
        while await _unfinished(db):  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await db.close()


async def _unfinished(db: Database) -> int:
    async with db.session() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(Interaction)
            .where(Interaction.status == "pending", Interaction.direction == "in")
        )
        unsent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(("pending", "sending")))
        )
    return int(pending or 0) + int(unsent or 0)


def worker_main(
    raw: dict[str, Any],
    stop: EventType,
    ready: multiprocessing.Queue[int],
    results: multiprocessing.Queue[bytes],
) -> None:
    """A worker process: score, decide, send, until the bench says stop."""
    latencies = asyncio.run(_work_until_stopped(raw, stop, ready))
    results.put(latencies.tobytes())


async def _work_until_stopped(
    raw: dict[str, Any], stop: EventType, ready: multiprocessing.Queue[int]
) -> array[float]:
    config = parse_config(raw, "socialbot-bench")
    connector = BenchConnector(0)
    daemon = Daemon(config, connectors=[connector], role="worker")
    daemon.worker.scorer.score("load the lexicons before the clock starts")
    ready.put(1)
    run = asyncio.create_task(daemon.run(install_signals=False))
    parent = os.getppid()
    # Polled: a multiprocessing.Event cannot be awaited. A bench that died stops us too.
    while not stop.is_set() and not run.done() and os.getppid() == parent:  # noqa: ASYNC110
        await asyncio.sleep(POLL_SECONDS)
    daemon.request_stop()
    await run
    return connector.latencies
