"""Every agent command and every platform parser fed random and hostile input (hypothesis).

The only acceptable outcomes: a result, a one-line user error, or a skip — never a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.desk.commands import COMMANDS
from bot.desk.handlers import Args, Assignee
from bot.errors import BotError
from connectors.reddit.parse import MalformedPayload, ParseContext, inbox_item
from connectors.x.parse import (
    Identity,
    MalformedItem,
    dm_to_inbound,
    tweet_to_inbound,
    users_by_id,
)
from responders.csat import parse_answer
from tests.support.desk_kit import CLI, desk, open_ticket
from tests.support.harness import make_config

HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e\u200b",
            "👨‍👩‍👧‍👦" * 50,
            "x" * 100_000,
            "'; DROP TABLE tickets; --",
            "$(reboot)",
            "{ticket}{0.__class__}",
            "@everyone",
            "<@&1>",
            "<script>",
            "-1",
            "2h; rm",
            "9" * 40,
            "1e309",
            "NaN",
            "∞",
            "0x1F",
            "/resolve 1 refund",
        ]
    ),
)
MAYBE = st.one_of(st.none(), HOSTILE)
TICKETS = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63), st.just(1))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from([c.name for c in COMMANDS]),
    ticket=TICKETS,
    text=MAYBE,
    name=MAYBE,
    duration=MAYBE,
    resolution=MAYBE,
    label=MAYBE,
    agent=MAYBE,
)
def test_every_desk_command_survives_hostile_arguments(**kw: Any) -> None:
    async def scenario(tmp: Path) -> None:
        config = make_config(tmp)
        from storage.db import Database

        db = Database(config.database_url)
        await db.upgrade()
        try:
            await open_ticket(db, config, at=datetime(2026, 12, 7, 15, tzinfo=UTC))
            agent = kw.pop("agent")
            command = kw.pop("command")
            args = Args(**kw, agent=Assignee(id=agent, name=agent) if agent else None)
            try:
                reply = await desk(config, db).execute(CLI, command, args)
            except BotError as exc:  # a clear one-line refusal of bad input
                assert "\n" not in str(exc) and len(str(exc)) < 500
            else:
                assert isinstance(reply.text, str)
        finally:
            await db.close()

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))


@given(HOSTILE)
def test_csat_parser_never_crashes(text: str) -> None:
    answer = parse_answer(text)
    assert answer is None or answer.opt_out or 1 <= (answer.score or 0) <= 5


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), HOSTILE),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
TWEETISH = st.fixed_dictionaries(
    {},
    optional={
        "id": JSON,
        "text": JSON,
        "author_id": JSON,
        "created_at": JSON,
        "conversation_id": JSON,
        "in_reply_to_user_id": JSON,
        "sender_id": JSON,
        "dm_conversation_id": JSON,
        "event_type": JSON,
        "referenced_tweets": JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(TWEETISH, JSON)
def test_x_parsers_only_raise_what_the_connector_skips(raw: dict[str, Any], includes: Any) -> None:
    """connectors/x/polling.py logs and skips MalformedItem, TypeError, AttributeError."""
    me = Identity("1", "us")
    try:
        users = users_by_id(includes)
        tweet_to_inbound(raw, users, me, channel="x", cursor_key="mentions", source="mentions")
    except (MalformedItem, TypeError, AttributeError):
        pass
    with contextlib.suppress(MalformedItem, TypeError, AttributeError):
        dm_to_inbound(raw, {}, me, channel="x", cursor_key="dms")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        JSON, st.fixed_dictionaries({"kind": st.sampled_from(["t1", "t4", "t3"]), "data": JSON})
    )
)
def test_reddit_parser_only_raises_what_the_connector_skips(thing: Any) -> None:
    """connectors/reddit/connector.py logs and skips MalformedPayload."""
    ctx = ParseContext.create("reddit", "us", ["AutoModerator"])
    with contextlib.suppress(MalformedPayload):
        inbox_item(thing, ctx)


def test_errors_quote_hostile_input_short_and_on_one_line() -> None:
    """Found by the property test above: a huge duration was echoed whole in the error."""
    import pytest

    from bot.desk.handlers import parse_duration

    with pytest.raises(BotError) as info:
        parse_duration("👨‍👩‍👧‍👦" * 50 + "\n2h")
    message = str(info.value)
    assert "\n" not in message and len(message) < 120 and "is not a duration" in message
