"""Where a worker's batch is scored: in its own event loop, or in a pool of processes.

Scoring is pure CPU (pattern lexicons, regular expressions) and holds the GIL, so in the
daemon's process it competes with everything else the event loop does — storing, deciding,
sending. With ``[bot] scoring_processes = N`` batches are scored in N child processes while
the daemon's own process keeps the database busy: on a machine with spare cores the pipeline
then runs at the scorer's speed or faster. The scorer object is pickled once into each child.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

from responders.scoring import Scorer, Scores

log = logging.getLogger(__name__)

CHUNK = 50  # texts per task sent to a child: large enough to amortise pickling

_child_scorer: Scorer | None = None


class Scoring(Protocol):
    version: str

    async def start(self) -> None:
        """Be ready before the first batch (a pool spawns and loads its scorers here)."""
        ...

    async def score_many(self, texts: Sequence[str]) -> list[Scores]: ...

    def close(self) -> None: ...


class InlineScoring:
    """Score in the caller's event loop (the default: no extra processes)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.version = scorer.version

    async def start(self) -> None:
        return None

    async def score_many(self, texts: Sequence[str]) -> list[Scores]:
        return [self.scorer.score(text) for text in texts]

    def close(self) -> None:
        return None


def _init_child(scorer: Scorer) -> None:
    global _child_scorer
    _child_scorer = scorer


def _score_chunk(texts: list[str]) -> list[Scores]:
    assert _child_scorer is not None, "scoring child started without a scorer"
    return [_child_scorer.score(text) for text in texts]


class PoolScoring:
    """Score batches in ``processes`` child processes (started with *spawn*: no inherited
    event loop, threads or database connections)."""

    def __init__(self, scorer: Scorer, processes: int) -> None:
        self.version = scorer.version
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child,
            initargs=(scorer,),
        )
        log.info("scoring in %d child process(es) with %s", processes, scorer.version)

    async def start(self) -> None:
        """Spawn every child now (seconds each: imports, lexicons), not on the first batch."""
        loop = asyncio.get_running_loop()
        warm = ["warm up"] * self.processes
        await asyncio.gather(
            *(loop.run_in_executor(self._pool, _score_chunk, [text]) for text in warm)
        )

    async def score_many(self, texts: Sequence[str]) -> list[Scores]:
        loop = asyncio.get_running_loop()
        parts = [list(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._pool, _score_chunk, part) for part in parts)
        )
        return [scores for part in results for scores in part]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def build_scoring(scorer: Scorer, processes: int) -> Scoring:
    return PoolScoring(scorer, processes) if processes > 0 else InlineScoring(scorer)
