"""`socialbot bench`: throughput, latency and memory of the whole pipeline (docs/scaling.md)."""

from __future__ import annotations

import json
import logging
from typing import Annotated, Literal, cast

import typer
from rich.table import Table

from bot.bench.runner import BenchOptions, BenchResult, run_bench
from bot.cli.common import console
from bot.errors import UserInputError
from bot.logs import setup_logging

log = logging.getLogger(__name__)


def print_result(result: BenchResult) -> None:
    table = Table(title="socialbot bench", show_header=False, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("messages", f"{result.messages:,}"),
        ("database / queue", f"{result.database} / {result.queue}"),
        (
            "worker processes / scoring processes",
            f"{result.worker_processes} / {result.scoring_processes}",
        ),
        (f"scorer alone ({result.scorer})", f"{result.scorer_rate:,.0f} msg/s"),
        ("pipeline end to end", f"{result.pipeline_rate:,.0f} msg/s"),
        ("ratio pipeline / scorer", f"{result.ratio:.2f}"),
        ("ack latency p50 / p99", f"{result.ack_p50_s:.3f} s / {result.ack_p99_s:.3f} s"),
        ("replies sent", f"{result.replies:,}"),
        ("peak RSS", f"{result.peak_rss_mb:,.0f} MB"),
        ("wall time", f"{result.seconds:,.1f} s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command()
    def bench(
        messages: Annotated[
            int, typer.Option(help="Generated messages to push through.")
        ] = 100_000,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        database: Annotated[
            str | None,
            typer.Option(
                help="postgresql://... (a schema of its own, dropped after); "
                "default: a temporary SQLite file."
            ),
        ] = None,
        queue: Annotated[str, typer.Option(help="memory or redis.")] = "memory",
        redis_url: Annotated[
            str, typer.Option(help="Redis for --queue redis (own key prefix, deleted after).")
        ] = "redis://127.0.0.1:6379/0",
        workers_processes: Annotated[
            int,
            typer.Option(
                help="Worker processes (--role worker) beside this ingest process; "
                "needs --queue redis."
            ),
        ] = 0,
        scoring_processes: Annotated[
            int, typer.Option(help="[bot] scoring_processes of the daemon(s).")
        ] = 0,
        workers: Annotated[
            int, typer.Option(help="[bot] workers (batches in flight per process).")
        ] = 2,
        queue_maxsize: Annotated[int, typer.Option(help="[queue] maxsize.")] = 200,
        batch_size: Annotated[int, typer.Option(help="[queue] batch_size.")] = 100,
        scorer: Annotated[
            str, typer.Option(help="[triage] scorer: default or textblob.")
        ] = "default",
        seed: Annotated[int, typer.Option(help="Seed of the message generator.")] = 7,
    ) -> None:
        """Push N realistic generated messages through the full pipeline and print the figures."""
        if queue not in ("memory", "redis"):
            raise UserInputError(f"--queue {queue!r}: use memory or redis")
        if scorer not in ("default", "textblob"):
            raise UserInputError(f"--scorer {scorer!r}: use default or textblob")
        setup_logging("WARNING", "text")
        options = BenchOptions(
            messages=messages,
            database=database,
            queue=cast(Literal["memory", "redis"], queue),
            redis_url=redis_url,
            worker_processes=workers_processes,
            scoring_processes=scoring_processes,
            workers=workers,
            queue_maxsize=queue_maxsize,
            batch_size=batch_size,
            scorer=cast(Literal["default", "textblob"], scorer),
            seed=seed,
        )
        result = run_bench(options)
        if as_json:
            print(json.dumps(result.as_dict()))
        else:
            print_result(result)
