"""[bot] scoring_processes: batches scored in child processes decide exactly as inline."""

from __future__ import annotations

from pathlib import Path

from bot.scoring_pool import InlineScoring, PoolScoring, build_scoring
from storage.models import Interaction, Ticket
from tests.support.harness import FakeConnector, count_rows, make_config, message, run_once
from tests.support.stub_scorer import StubScorer

TEXTS = ["my order never came", "I love the drill", "where is my parcel?", "ok", "it is broken"]


async def test_pool_scores_like_the_scorer_itself() -> None:
    pool = PoolScoring(StubScorer(), processes=2)
    try:
        await pool.start()
        scored = await pool.score_many(TEXTS * 30)  # several chunks, both children
    finally:
        pool.close()
    assert scored == [StubScorer().score(text) for text in TEXTS * 30]
    assert isinstance(build_scoring(StubScorer(), 0), InlineScoring)


async def test_pipeline_with_a_scoring_process_decides_as_inline(tmp_path: Path) -> None:
    results = []
    for processes in (0, 1):
        config = make_config(tmp_path / str(processes), bot={"scoring_processes": processes})
        fake = FakeConnector()
        fake.push(*(message(text, id=f"s{n}", author=f"a{n}") for n, text in enumerate(TEXTS)))
        stats = await run_once(config, [fake], StubScorer())
        labels = dict(stats.labels)
        replies = sorted(r.in_reply_to or "" for r in fake.sent)
        results.append((labels, replies, await count_rows(config, Ticket)))
        assert await count_rows(config, Interaction, status="pending") == 0
    assert results[0] == results[1]
    assert results[0][2] == 3  # two complaints and a question
