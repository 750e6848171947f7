"""The crash test's verdict, from the database and the simulator's record of what was posted.

Pure functions over plain rows, so a unit test can feed it a double post or a lost message
and see it counted (tests/test_crash.py); ``load_snapshot`` reads the daemon's SQLite file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NEEDS_ACK = ("complaint", "question")


@dataclass(frozen=True, slots=True)
class InRow:
    id: int
    external_id: str
    thread: str
    status: str  # pending | processed | ignored
    label: str


@dataclass(frozen=True, slots=True)
class OutRow:
    id: int
    inbound_id: int
    purpose: str
    status: str  # pending | sending | sent | failed | skipped
    sent_external_id: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the database says after the run."""

    inbound: list[InRow]
    outbox: list[OutRow]
    ticket_threads: list[str]  # one entry per ticket
    reconciled: int = 0  # replies recorded as sent because find_sent found them


@dataclass(frozen=True, slots=True)
class Post:
    """One reply the simulated platform holds."""

    id: str
    thread: str
    answered: str | None  # the tweet it replies to (DMs: None)
    outbox: OutRow | None  # the outbox row that recorded it, if any


@dataclass
class Verdict:
    messages: int
    not_stored: list[str] = field(default_factory=list)
    stored_twice: int = 0
    unprocessed: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    unrecorded_posts: int = 0  # on the platform, unknown to the database: a double post
    # Two identical replies in one thread (e.g. two "thank you" DMs to one customer), both
    # posted, both outbox rows recorded against the same post: find_sent cannot tell
    # identical texts apart. Not a double post; reported, not failed.
    misattributed: int = 0
    recorded_absent: int = 0  # marked sent, but the platform does not have it
    duplicate_replies: int = 0  # a second reply to the same message
    duplicate_acks: int = 0  # a second acknowledgement in the same thread
    threads_needing_ack: int = 0
    missing_acks: int = 0
    ticket_errors: int = 0  # a thread needing an ack without exactly one ticket
    replies_to_ignored: int = 0  # answered our own post, a bot or spam
    stranded: int = 0  # outbox rows still pending or sending after the drain
    # Refused for good by the platform, by purpose (X refuses a second identical tweet, e.g.
    # a second "thank you" in one thread): reported; a refused ack also counts as missing.
    refused: Counter[str] = field(default_factory=Counter)
    reconciled: int = 0

    @property
    def lost(self) -> int:
        return len(self.not_stored) + self.unprocessed

    @property
    def ok(self) -> bool:
        problems = (
            self.lost,
            self.stored_twice,
            self.unrecorded_posts,
            self.recorded_absent,
            self.duplicate_replies,
            self.duplicate_acks,
            self.missing_acks,
            self.ticket_errors,
            self.replies_to_ignored,
            self.stranded,
        )
        return not any(problems)

    def lines(self) -> list[str]:
        labels = " ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        refused = " ".join(f"{k}={v}" for k, v in sorted(self.refused.items())) or "none"
        return [
            f"stored={self.messages - len(self.not_stored)}/{self.messages} "
            f"not_stored={len(self.not_stored)} stored_twice={self.stored_twice} "
            f"unprocessed={self.unprocessed}",
            f"labels: {labels}",
            f"threads_needing_ack={self.threads_needing_ack} missing_acks={self.missing_acks} "
            f"ticket_errors={self.ticket_errors}",
            f"replies_on_platform={self.posts} unrecorded_posts={self.unrecorded_posts} "
            f"recorded_but_absent={self.recorded_absent} "
            f"identical_replies_recorded_as_one={self.misattributed} "
            f"duplicate_replies={self.duplicate_replies} "
            f"replies_to_ignored={self.replies_to_ignored}",
            f"outbox_stranded={self.stranded} refused_by_platform: {refused}; "
            f"reconciled_after_restart={self.reconciled}",
        ]


def platform_posts(sent: list[dict[str, Any]], snap: Snapshot) -> list[Post]:
    """The simulator's record, each reply placed in its thread and matched to its outbox row."""
    rows = {r.external_id: r for r in snap.inbound}
    recorded = {o.sent_external_id: o for o in snap.outbox if o.sent_external_id}
    posts = []
    for entry in sent:
        if entry["type"] == "tweet":
            ident, answered = str(entry["id"]), entry.get("in_reply_to_tweet_id")
            row = rows.get(answered) if answered else None
            thread = row.thread if row else f"unknown:{answered}"
        else:
            ident, answered = str(entry["dm_event_id"]), None
            thread = str(entry["dm_conversation_id"])
        posts.append(Post(ident, thread, answered, recorded.get(ident)))
    return posts


def judge(posted: list[str], snap: Snapshot, sent: list[dict[str, Any]]) -> Verdict:
    """``posted``: the platform ids of every message the test put on the platform."""
    verdict = Verdict(messages=len(posted), reconciled=snap.reconciled)
    counts = Counter(r.external_id for r in snap.inbound)
    rows = {r.external_id: r for r in snap.inbound}
    mine = [rows[e] for e in posted if e in rows]
    verdict.not_stored = [e for e in posted if counts[e] == 0]
    verdict.stored_twice = sum(1 for e in posted if counts[e] > 1)
    verdict.unprocessed = sum(1 for r in mine if r.status == "pending")
    verdict.labels = Counter(r.label or r.status for r in mine)

    posts = platform_posts(sent, snap)
    verdict.posts = len(posts)
    claims = Counter(o.sent_external_id for o in snap.outbox if o.sent_external_id)
    # thread -> purpose of the identical replies recorded against one post there
    shared = {p.thread: p.outbox.purpose for p in posts if claims[p.id] > 1 and p.outbox}
    unknown = [p for p in posts if p.outbox is None]
    verdict.misattributed = sum(1 for p in unknown if p.thread in shared)
    verdict.unrecorded_posts = len(unknown) - verdict.misattributed
    on_platform = {p.id for p in posts}
    verdict.recorded_absent = sum(
        1 for o in snap.outbox if o.status == "sent" and o.sent_external_id not in on_platform
    )
    per_message = Counter(p.answered for p in posts if p.answered)
    verdict.duplicate_replies = sum(n - 1 for n in per_message.values() if n > 1)
    # An unrecorded post may be anything, an acknowledgement included: counted as one
    # (one of identical replies recorded as one has their purpose).
    purpose = {p.id: p.outbox.purpose if p.outbox else shared.get(p.thread, "?") for p in posts}
    acks = Counter(p.thread for p in posts if purpose[p.id] in ("ack", "?"))
    verdict.duplicate_acks = sum(n - 1 for n in acks.values() if n > 1)

    needing = {r.thread for r in mine if r.label in NEEDS_ACK}
    tickets = Counter(snap.ticket_threads)
    verdict.threads_needing_ack = len(needing)
    verdict.missing_acks = sum(1 for t in needing if acks[t] == 0)
    verdict.ticket_errors = sum(1 for t in needing if tickets[t] != 1)
    ignored = {r.external_id for r in mine if r.status == "ignored"}
    verdict.replies_to_ignored = sum(1 for p in posts if p.answered in ignored)
    verdict.stranded = sum(1 for o in snap.outbox if o.status in ("pending", "sending"))
    verdict.refused = Counter(o.purpose for o in snap.outbox if o.status == "failed")
    return verdict


def load_snapshot(path: Path, channel: str) -> Snapshot:
    """Read the daemon's SQLite database (WAL: safe while a daemon still runs)."""
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        inbound = [
            InRow(i, str(e), str(t), str(s), str(lbl or ""))
            for i, e, t, s, lbl in conn.execute(
                "SELECT id, external_id, thread, status, label FROM interactions "
                "WHERE direction = 'in' AND channel = ?",
                (channel,),
            )
        ]
        outbox = [
            OutRow(i, inbound_id, p, s, x)
            for i, inbound_id, p, s, x in conn.execute(
                "SELECT id, inbound_id, purpose, status, sent_external_id FROM outbox "
                "WHERE channel = ?",
                (channel,),
            )
        ]
        threads = [
            str(t)
            for (t,) in conn.execute("SELECT thread FROM tickets WHERE channel = ?", (channel,))
        ]
        (reconciled,) = conn.execute(
            "SELECT count(*) FROM events WHERE type LIKE 'sent_%' "
            "AND json_extract(data, '$.reconciled') = 1"
        ).fetchone()
    return Snapshot(inbound, outbox, threads, int(reconciled))
