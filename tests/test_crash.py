"""The crash test, small: the real daemon SIGKILLed at random moments loses nothing.

The full run (5,000 messages, 20 kills) is ``python benchmarks/crash_test.py``; here 300
messages and 4 kills, plus the verdict's own checks fed a double post and a lost message
(so a silent checker cannot pass a broken daemon).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest

from benchmarks.crash_check import InRow, OutRow, Snapshot, judge
from benchmarks.crash_mix import MixGenerator, batches

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(1200)
async def test_daemon_killed_four_times_loses_nothing_and_posts_nothing_twice(
    tmp_path: Path,
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "benchmarks" / "crash_test.py"),
        "--messages", "300", "--kills", "4", "--seed", "7",
        "--workdir", str(tmp_path / "crash"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=1100)
    text = output.decode(errors="replace")

    assert process.returncode == 0, text[-4000:]
    assert re.search(r"^messages=300 lost=0 duplicate_acks=0 kills=4$", text, re.M), text[-4000:]
    assert len(re.findall(r"^kill +\d/4 ", text, re.M)) == 4
    assert re.search(r"^stored=300/300 not_stored=0 stored_twice=0 unprocessed=0$", text, re.M)
    found = re.search(r"threads_needing_ack=(\d+) missing_acks=0 ticket_errors=0", text)
    assert found and int(found.group(1)) > 50  # the mix really asked for acknowledgements


def _snapshot() -> Snapshot:
    inbound = [
        InRow(1, "t1", "t1", "processed", "complaint"),
        InRow(2, "t2", "t2", "processed", "question"),
        InRow(3, "t3", "t3", "ignored", "ignored"),
    ]
    outbox = [OutRow(10, 1, "ack", "sent", "r1"), OutRow(11, 2, "ack", "sent", "r2")]
    return Snapshot(inbound, outbox, ["t1", "t2"])


def _tweet(ident: str, answered: str) -> dict[str, str]:
    return {"type": "tweet", "id": ident, "in_reply_to_tweet_id": answered}


def test_verdict_passes_a_clean_run() -> None:
    verdict = judge(["t1", "t2", "t3"], _snapshot(), [_tweet("r1", "t1"), _tweet("r2", "t2")])
    assert verdict.ok and verdict.lost == 0 and verdict.threads_needing_ack == 2


def test_verdict_counts_a_double_post_that_the_database_does_not_know() -> None:
    sent = [_tweet("r1", "t1"), _tweet("r1b", "t1"), _tweet("r2", "t2")]
    verdict = judge(["t1", "t2", "t3"], _snapshot(), sent)
    assert not verdict.ok
    assert verdict.duplicate_acks == 1 and verdict.unrecorded_posts == 1
    assert verdict.duplicate_replies == 1


def test_verdict_tells_identical_replies_recorded_as_one_from_a_double_post() -> None:
    """Two identical "thank you" DMs in one conversation, both posted; reconciliation could
    not tell them apart and recorded both rows against the newer one."""
    inbound = [
        InRow(1, "d1", "conv", "processed", "praise"),
        InRow(2, "d2", "conv", "processed", "praise"),
    ]
    outbox = [OutRow(10, 1, "thanks", "sent", "p2"), OutRow(11, 2, "thanks", "sent", "p2")]
    sent = [
        {"type": "dm", "dm_event_id": eid, "dm_conversation_id": "conv"} for eid in ("p1", "p2")
    ]
    verdict = judge(["d1", "d2"], Snapshot(inbound, outbox, []), sent)
    assert verdict.misattributed == 1 and verdict.unrecorded_posts == 0 and verdict.ok
    # One row posted twice (p2, then p2b after a crash): that is a double post.
    twice = [{"type": "dm", "dm_event_id": e, "dm_conversation_id": "conv"} for e in ("p2", "p2b")]
    doubled = judge(["d1", "d2"], Snapshot(inbound, outbox[:1], []), twice)
    assert doubled.unrecorded_posts == 1 and doubled.misattributed == 0 and not doubled.ok


def test_verdict_counts_lost_unprocessed_and_unanswered_messages() -> None:
    snap = _snapshot()
    snap.inbound[1] = InRow(2, "t2", "t2", "pending", "")
    verdict = judge(["t1", "t2", "t3", "t4"], snap, [_tweet("r1", "t1")])
    assert verdict.not_stored == ["t4"] and verdict.unprocessed == 1 and verdict.lost == 2
    assert verdict.recorded_absent == 1  # r2 marked sent, but the platform never got it
    assert not verdict.ok


def test_verdict_counts_a_reply_to_an_ignored_message_and_a_missing_ticket() -> None:
    snap = Snapshot(_snapshot().inbound, _snapshot().outbox, ["t1"])
    sent = [_tweet("r1", "t1"), _tweet("r2", "t2"), _tweet("rx", "t3")]
    verdict = judge(["t1", "t2", "t3"], snap, sent)
    assert verdict.replies_to_ignored == 1 and verdict.ticket_errors == 1
    assert not verdict.ok


def test_mix_is_deterministic_and_never_batches_a_reply_with_its_parent() -> None:
    plan = MixGenerator(3, "42").plan(2000)
    assert plan == MixGenerator(3, "42").plan(2000)
    kinds = {p.kind for p in plan}
    assert {"complaint", "question", "praise", "followup", "dm", "bot", "own", "spam"} <= kinds
    for batch in batches(plan, size=50):
        members = {p.index for p in batch}
        assert len({p.endpoint for p in batch}) == 1 and len(batch) <= 50
        assert not any(p.parent in members for p in batch)
