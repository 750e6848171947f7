"""`socialbot bench` runs end to end and reports every figure (no figure is asserted on:
the numbers belong to docs/scaling.md, not to a test)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bot.bench.connector import BenchConnector
from bot.bench.messages import MessageGenerator
from bot.bench.runner import BenchOptions, percentile, run_bench
from tests.scaleout_support import PG_URL
from tests.support.services import need_tcp

ROOT = Path(__file__).resolve().parent.parent
KEYS = {
    "scorer_rate",
    "pipeline_rate",
    "ratio",
    "ack_p50_s",
    "ack_p99_s",
    "peak_rss_mb",
    "messages",
}


def test_generator_is_reproducible_varied_and_customer_like() -> None:
    one, two = MessageGenerator(seed=3), MessageGenerator(seed=3)
    sample = [one.get(n) for n in range(2000)]
    assert sample == [two.get(n) for n in range(2000)]
    assert MessageGenerator(seed=4).get(10) != sample[10]
    assert len({m.text for m in sample}) > 1500  # varied, not a handful of strings
    kinds = {m.kind for m in sample}
    assert {"complaint", "question", "praise", "neutral", "followup"} <= kinds
    follow_up = next(m for m in sample if m.kind == "followup")
    origin = int(follow_up.thread.removeprefix("t"))
    assert follow_up.author == one.get(origin).author  # same customer, same thread


def test_percentile_is_nearest_rank() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert math.isnan(percentile([], 0.5))


async def test_bench_platform_backlog_costs_no_memory_until_read() -> None:
    connector = BenchConnector(1_000_000)
    items = connector.listen(follow=False)
    first = await anext(items)
    await items.aclose()
    assert first.external_id == "0" and connector.read == 0  # nothing else was built


def test_bench_in_process_reports_every_figure() -> None:
    result = run_bench(BenchOptions(messages=300, scorer_sample=300))
    figures = result.as_dict()
    assert set(figures) >= KEYS
    assert figures["messages"] == 300 and result.replies > 0
    assert result.pipeline_rate > 0 and result.scorer_rate > 0
    assert 0 < result.ack_p50_s <= result.ack_p99_s
    assert result.peak_rss_mb > 0


def test_bench_command_prints_one_json_object() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "bench", "--messages", "200", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=110,
    )
    figures = json.loads(completed.stdout)
    assert set(figures) >= KEYS and figures["messages"] == 200


def test_bench_with_worker_processes_on_postgres_and_redis() -> None:
    need_tcp("127.0.0.1", 5432, "PostgreSQL")
    need_tcp("127.0.0.1", 6379, "Redis")
    result = run_bench(
        BenchOptions(
            messages=400, database=PG_URL, queue="redis", worker_processes=2, scorer_sample=200
        )
    )
    assert result.database == "postgresql" and result.worker_processes == 2
    assert result.replies > 0 and result.pipeline_rate > 0
