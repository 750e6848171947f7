"""Counters for one daemon run: the demo summary, `socialbot status` and metrics read them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RunStats:
    read: int = 0  # items the connectors yielded
    stored: int = 0  # new interactions stored
    duplicates: int = 0  # already stored: nothing done twice
    processed: int = 0
    ignored: int = 0  # our own posts, bots, spam
    tickets_opened: int = 0
    tickets_joined: int = 0
    replies_sent: Counter[str] = field(default_factory=Counter)  # by purpose
    replies_failed: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    connector_errors: Counter[str] = field(default_factory=Counter)
    database_retries: int = 0  # locked / full / unreachable database, waited out
    sender_errors: int = 0  # unexpected errors the send loop survived
