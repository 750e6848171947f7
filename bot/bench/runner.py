"""`socialbot bench`: N generated messages through the real daemon, and the figures.

The pipeline is the production one (connector -> store -> queue -> score -> route ->
tickets/outbox -> sender -> connector); only the platform is simulated (bot.bench.connector:
a backlog of N messages available at once, replies accepted instantly). Figures:

* ``scorer_rate`` — the daemon's own scorer alone on an even sample of the same messages,
  in the same run: the compute limit;
* ``pipeline_rate`` — N / wall time from the first read to the last reply handed over;
* ``ratio`` — pipeline_rate / scorer_rate;
* ``ack_p50_s`` / ``ack_p99_s`` — message read -> its reply handed to the connector;
* ``peak_rss_mb`` — peak resident memory (with worker processes: all of them together).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.bench.connector import BenchConnector
from bot.bench.messages import MessageGenerator
from bot.bench.resources import RssSampler, bench_database, bench_stream
from bot.config import Config, parse_config
from bot.daemon import Daemon
from bot.errors import UserInputError
from responders.scoring import Scorer
from responders.triage.settings import build_scorer
from storage.db import upgrade_schema


@dataclass(frozen=True, slots=True)
class BenchOptions:
    messages: int = 100_000
    database: str | None = None  # None: a throwaway SQLite file; postgresql://: own schema
    queue: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    worker_processes: int = 0  # 0: workers in the bench process (role "all")
    scoring_processes: int = 0  # [bot] scoring_processes of the daemon(s)
    workers: int = 2  # [bot] workers
    batch_size: int = 100  # [queue] batch_size
    queue_maxsize: int = 200  # [queue] maxsize (the default): backlog held in memory / Redis
    scorer: Literal["default", "textblob"] = "default"  # [triage] scorer
    scorer_sample: int = 20_000
    seed: int = 7


@dataclass(frozen=True, slots=True)
class BenchResult:
    messages: int
    scorer_rate: float
    pipeline_rate: float
    ratio: float
    ack_p50_s: float
    ack_p99_s: float
    peak_rss_mb: float
    scorer: str
    replies: int
    seconds: float
    database: str
    queue: str
    worker_processes: int
    scoring_processes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def scorer_rate(scorer: Scorer, generator: MessageGenerator, total: int, sample: int) -> float:
    """Messages per second of the scorer alone, on an even sample of the run's messages."""
    count = max(1, min(total, sample))
    step = max(1, total // count)
    texts = [generator.get(seq).text for seq in range(0, step * count, step)]
    scorer.score("warm up the lexicons")
    started = time.perf_counter()
    for text in texts:
        scorer.score(text)
    return len(texts) / (time.perf_counter() - started)


def bench_raw_config(
    database_url: str, options: BenchOptions, stream: str | None
) -> dict[str, Any]:
    """The daemon config of a run, as a plain dict (it travels to worker processes)."""
    queue: dict[str, Any] = {
        "backend": options.queue,
        "maxsize": options.queue_maxsize,
        "batch_size": options.batch_size,
    }
    if stream is not None:
        queue.update(redis_url=options.redis_url, stream=stream, group="bench-workers")
    return {
        "bot": {
            "database_url": database_url,
            "auto_migrate": False,  # migrated once before the clock starts
            "log_level": "WARNING",
            "outbox_poll_seconds": 0.05,
            "drain_timeout_seconds": 600,
            "workers": options.workers,
            "scoring_processes": options.scoring_processes,
        },
        "queue": queue,
        "triage": {"scorer": options.scorer},
    }


@contextmanager
def _borrowed(options: BenchOptions) -> Iterator[tuple[str, str | None]]:
    streams = bench_stream(options.redis_url) if options.queue == "redis" else nullcontext(None)
    with bench_database(options.database) as url, streams as stream:
        yield url, stream


async def _run_in_process(config: Config, options: BenchOptions) -> tuple[float, BenchConnector]:
    connector = BenchConnector(options.messages, MessageGenerator(seed=options.seed))
    daemon = Daemon(config, connectors=[connector])
    connector.bind(daemon.storage.inbound)
    started = time.perf_counter()
    await daemon.run(once=True, install_signals=False)
    return time.perf_counter() - started, connector


def run_bench(options: BenchOptions) -> BenchResult:
    if options.worker_processes and options.queue != "redis":
        raise UserInputError("--workers-processes needs --queue redis (a queue they can share)")
    if options.messages < 1:
        raise UserInputError("--messages must be at least 1")
    with _borrowed(options) as (url, stream):
        raw = bench_raw_config(url, options, stream)
        config = parse_config(raw, "socialbot-bench")
        upgrade_schema(url)
        if options.worker_processes:
            from bot.bench.multiproc import run_with_worker_processes

            elapsed, latencies, peak = run_with_worker_processes(raw, options)
        else:
            with RssSampler(children=options.scoring_processes > 0) as rss:
                elapsed, connector = asyncio.run(_run_in_process(config, options))
            latencies, peak = list(connector.latencies), rss.peak
    scorer = build_scorer(config.triage)
    rate = scorer_rate(
        scorer, MessageGenerator(seed=options.seed), options.messages, options.scorer_sample
    )
    pipeline = options.messages / elapsed
    return BenchResult(
        messages=options.messages,
        scorer_rate=round(rate, 1),
        pipeline_rate=round(pipeline, 1),
        ratio=round(pipeline / rate, 3),
        ack_p50_s=round(percentile(latencies, 0.50), 4),
        ack_p99_s=round(percentile(latencies, 0.99), 4),
        peak_rss_mb=round(peak / 2**20, 1),
        scorer=scorer.version,
        replies=len(latencies),
        seconds=round(elapsed, 2),
        database="sqlite" if url.startswith("sqlite") else "postgresql",
        queue=options.queue,
        worker_processes=options.worker_processes,
        scoring_processes=options.scoring_processes,
    )
