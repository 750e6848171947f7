"""Hostile and random input through the real pipeline: never a crash, never a lost message."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from responders.routing import Router, RoutingSettings
from responders.scoring import TextBlobScorer
from responders.templates import ReplySettings, Templates
from storage.inbound import clean_text
from storage.models import Interaction
from tests.support.harness import FakeConnector, count_rows, make_config, message, run_once

NASTY = st.sampled_from(
    [
        "\x00",
        "\u200b",
        "\u200d",
        "\u202e",
        "\ufeff",
        "\r\n",
        "\x1b[31m",
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "'; DROP TABLE interactions; --",
        "$(rm -rf /)",
        "{ticket}",
        "{0.__class__}",
        "%s%s%n",
        "<script>alert(1)</script>",
        "/resolve 1 refund",
        "!reply 1 hacked",
        "\ud800",
    ]
)
TEXTS = st.lists(st.one_of(st.text(max_size=40), NASTY), max_size=12).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_scoring_routing_and_templates_never_crash(text: str) -> None:
    scores = TextBlobScorer().score(text)
    decision = Router(RoutingSettings()).route(text, scores)
    assert decision.label
    reply = Templates(ReplySettings()).render(
        "ack",
        {"name": text, "handle": text, "ticket": 1, "sla_hours": "24", "channel": "x"},
        channel="x",
    )
    assert len(reply) <= 280


@given(TEXTS)
def test_clean_text_is_storable_utf8(text: str) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogates left


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TEXTS, min_size=1, max_size=8), st.sampled_from(["x", "y" * 300, "😀", "\u202e"]))
def test_every_hostile_message_is_stored_once_and_processed(texts: list[str], author: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(Path(tmp))
        fake = FakeConnector()
        fake.push(*[message(t or " ", id=f"h{n}", author=author) for n, t in enumerate(texts)])
        stats = asyncio.run(run_once(config, [fake]))
        assert stats.stored == len(texts)
        assert asyncio.run(count_rows(config, Interaction, direction="in")) == len(texts)
        assert asyncio.run(count_rows(config, Interaction, status="pending")) == 0
        assert all(len(reply.text) <= fake.max_length for reply in fake.sent)
