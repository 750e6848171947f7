"""Replies land in the customer's thread or DM conversation, once, within X's limits."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.errors import AuthError, ConnectorError, RateLimited, TransientError
from connectors.base import Inbound, Kind, Outbound
from connectors.x.text import weighted_length
from tests.sims.x_sim import XSim
from tests.sims.x_testkit import Store, drain, make_connector
from tests.support.logs import warnings_saying


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> XSim:
    async with XSim() as running:
        for name, value in running.env().items():
            monkeypatch.setenv(name, value)
        yield running


def answer(item: Inbound, text: str, key: str = "outbox-1") -> Outbound:
    """What the daemon builds from an Inbound: same channel, thread and message."""
    return Outbound(
        channel=item.channel,
        kind=item.kind,
        thread=item.thread,
        text=text,
        in_reply_to=item.external_id,
        recipient_id=item.author.id if item.kind is Kind.DM else None,
        idempotency_key=key,
        meta=dict(item.meta),
    )


async def _one(sim: XSim, **settings: object) -> tuple[Inbound, object]:
    store = Store()
    connector = make_connector(sim, store, **settings)
    await connector.connect()
    (item,) = await drain(connector, store)
    return item, connector


async def test_reply_lands_in_the_thread_trimmed_to_280(sim: XSim) -> None:
    root = sim.state.add_mention("amy", "order 123 never came")
    item, connector = await _one(sim, dms=False)
    long_text = "We are sorry about order 123 — " + "really " * 60 + "https://status.example.com/x"

    ref = await connector.send(answer(item, long_text))  # type: ignore[attr-defined]

    (sent,) = sim.sent
    assert sent["type"] == "tweet" and sent["in_reply_to_tweet_id"] == root.id
    assert sent["conversation_id"] == root.conversation_id
    assert sent["id"] == ref.external_id and ref.url and ref.external_id in ref.url
    assert weighted_length(sent["text"]) <= 280 and sent["text"].endswith("…")
    assert sim.state.tweets[ref.external_id].text.startswith("@amy ")  # X's reply prefix


async def test_cjk_reply_is_trimmed_by_weight_not_code_points(sim: XSim) -> None:
    sim.state.add_mention("ben", "注文が届きません")
    item, connector = await _one(sim, dms=False)

    await connector.send(answer(item, "ご不便をおかけして申し訳ありません。" * 20))  # type: ignore[attr-defined]

    (sent,) = sim.sent
    assert len(sent["text"]) <= 141  # 140 CJK characters weigh 280


async def test_dm_reply_goes_to_the_participant_conversation(sim: XSim) -> None:
    event = sim.state.add_dm("cat", "please call me")
    item, connector = await _one(sim, mentions=False)

    ref = await connector.send(answer(item, "We will, today."))  # type: ignore[attr-defined]

    (sent,) = sim.sent
    assert sent["type"] == "dm" and sent["participant_id"] == item.author.id
    assert sent["dm_conversation_id"] == event.conversation_id == item.thread
    assert ref.external_id == sent["dm_event_id"]


async def test_lost_answer_to_a_tweet_is_reconciled_not_reposted(sim: XSim) -> None:
    sim.state.add_mention("dan", "hello & welcome")
    item, connector = await _one(sim, dms=False)
    sim.inject("/2/tweets", method="POST", kind="drop")  # X stores it, the answer is lost

    ref = await connector.send(answer(item, "Thanks Dan & team, we're on it"))  # type: ignore[attr-defined]

    assert len(sim.sent) == 1 and ref.external_id == sim.sent[0]["id"]
    assert sim.count("/2/users/*/tweets") >= 1  # looked before posting again


async def test_slow_dm_send_is_reconciled_not_resent(sim: XSim) -> None:
    sim.state.add_dm("eve", "hi")
    item, connector = await _one(sim, mentions=False, request_timeout_seconds=0.3)
    sim.inject("/2/dm_conversations/with/*/messages", method="POST", kind="slow", delay=2.0)

    ref = await connector.send(answer(item, "Hello Eve"))  # type: ignore[attr-defined]

    assert len(sim.sent) == 1 and ref.external_id == sim.sent[0]["dm_event_id"]


async def test_send_retries_a_503_burst_itself(sim: XSim) -> None:
    sim.state.add_mention("fay", "ping")
    item, connector = await _one(sim, dms=False)
    sim.inject("/2/tweets", method="POST", status=503, times=2)

    await connector.send(answer(item, "pong"))  # type: ignore[attr-defined]

    assert len(sim.sent) == 1 and sim.sent[0]["text"] == "pong"


async def test_a_long_rate_limit_on_send_goes_back_to_the_sender(sim: XSim) -> None:
    sim.state.add_mention("gil", "ping")
    item, connector = await _one(sim, dms=False, backoff_max_seconds=0.05)
    sim.inject("/2/tweets", method="POST", status=429, reset_in=120)

    with pytest.raises(RateLimited) as caught:
        await connector.send(answer(item, "pong"))  # type: ignore[attr-defined]

    assert caught.value.reset_at is not None
    assert 100 < (caught.value.reset_at - datetime.now(UTC)).total_seconds() <= 121
    assert sim.sent == [] and sim.count("/2/tweets", "POST") == 1  # no waiting, no busy loop
    await connector.send(answer(item, "pong"))  # type: ignore[attr-defined]
    assert len(sim.sent) == 1


async def test_duplicate_content_refusal_returns_the_earlier_post(sim: XSim) -> None:
    sim.state.add_mention("gus", "hello")
    item, connector = await _one(sim, dms=False)
    first = await connector.send(answer(item, "Hi Gus"))  # type: ignore[attr-defined]

    again = await connector.send(answer(item, "Hi Gus", key="outbox-1-retry"))  # type: ignore[attr-defined]

    assert again.external_id == first.external_id and len(sim.sent) == 1


async def test_find_sent_tells_posted_from_not_posted(sim: XSim) -> None:
    sim.state.add_mention("hil", "one")
    sim.state.add_dm("hil", "two")
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()
    tweet, dm = sorted(await drain(connector, store), key=lambda i: i.kind)  # dm < mention
    tweet, dm = (tweet, dm) if tweet.kind is Kind.MENTION else (dm, tweet)
    posted_tweet = await connector.send(answer(tweet, "Answer one"))
    posted_dm = await connector.send(answer(dm, "Answer two"))

    assert await connector.find_sent(answer(tweet, "Answer one")) == posted_tweet
    assert await connector.find_sent(answer(dm, "Answer two")) == posted_dm
    assert await connector.find_sent(answer(tweet, "A different answer")) is None
    assert await connector.find_sent(answer(dm, "Not sent")) is None


async def test_reply_to_a_deleted_tweet_is_a_connector_error_not_an_auth_error(sim: XSim) -> None:
    root = sim.state.add_mention("ian", "soon deleted")
    item, connector = await _one(sim, dms=False)
    del sim.state.tweets[root.id]

    with pytest.raises(ConnectorError) as caught:
        await connector.send(answer(item, "too late"))  # type: ignore[attr-defined]

    assert not isinstance(caught.value, AuthError)
    assert connector.health().token_valid is True  # type: ignore[attr-defined]


async def test_send_with_an_expired_token_raises_auth_error(sim: XSim) -> None:
    sim.state.add_mention("jan", "hello")
    item, connector = await _one(sim, dms=False)
    sim.token_valid = False

    with pytest.raises(AuthError):
        await connector.send(answer(item, "hi"))  # type: ignore[attr-defined]

    assert sim.sent == [] and connector.health().state == "down"  # type: ignore[attr-defined]


async def test_an_uncertain_dm_is_not_sent_twice_across_sender_retries(sim: XSim) -> None:
    sim.state.add_dm("hugo", "hello")
    item, connector = await _one(sim, mentions=False, retry_attempts=2)
    sim.inject("/2/dm_conversations/with/*/messages", method="POST", kind="drop")
    # ...and X cannot be asked whether it arrived: the lookups fail too.
    sim.inject("/2/dm_conversations/with/*/dm_events", status=503, times=2)

    with pytest.raises(TransientError):
        await connector.send(answer(item, "We are looking into it"))  # type: ignore[attr-defined]
    assert len(sim.sent) == 1  # posted, though we could not tell

    ref = await connector.send(answer(item, "We are looking into it"))  # type: ignore[attr-defined]

    assert len(sim.sent) == 1 and ref.external_id == sim.sent[0]["dm_event_id"]


async def test_find_sent_pages_back_through_our_later_posts(sim: XSim) -> None:
    mentions = [sim.state.add_mention(f"p{n}", f"question {n}") for n in range(130)]
    store = Store()
    connector = make_connector(sim, store, dms=False)
    await connector.connect()
    items = await drain(connector, store)
    replies = [answer(item, f"Answer {n}", key=f"k{n}") for n, item in enumerate(items)]
    for reply in replies:
        await connector.send(reply)
    assert len(sim.sent) == len(mentions)
    before = sim.count("/2/users/*/tweets")

    found = await connector.find_sent(replies[0])  # 129 of our posts are newer

    assert found is not None and found.external_id == sim.sent[0]["id"]
    assert sim.count("/2/users/*/tweets") - before == 2  # two pages of 100
    shallow = make_connector(sim, Store(), dms=False, find_sent_lookback=50)
    assert await shallow.find_sent(replies[0]) is None  # the documented limit


# -- an app without the Direct Message permission ---------------------------------------------

SEND_DM = "/2/dm_conversations/with/*/messages"
DM_LOOKUP = "/2/dm_conversations/with/*/dm_events"
ADVICE = "Read and write and Direct message"


async def test_dm_reply_403_fails_that_reply_with_the_reason_while_tweets_go_on(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.x.connector")
    sim.state.add_mention("olga", "where is my parcel")
    sim.state.add_dm("pete", "refund please")
    store = Store()
    connector = make_connector(sim, store)
    await connector.connect()
    items = await drain(connector, store)
    dm = next(i for i in items if i.kind is Kind.DM)
    tweet = next(i for i in items if i.kind is Kind.MENTION)
    refusal = sim.inject(SEND_DM, method="POST", status=403, times=10**9)  # X's real body

    with pytest.raises(ConnectorError) as refused:
        await connector.send(answer(dm, "We are on it"))

    assert not isinstance(refused.value, AuthError)  # the sender gives this reply up
    reason = str(refused.value)
    assert reason.startswith("X refused the DM: the app lacks the Direct Message permission")
    assert "HTTP 403" in reason and ADVICE in reason
    assert sim.count(SEND_DM, "POST") == 1  # not retried like a 5xx
    health = connector.health()
    assert health.state == "degraded" and health.token_valid is True
    assert health.last_error is not None
    assert "DM replies refused" in health.last_error and ADVICE in health.last_error
    [warning] = warnings_saying(caplog, "refuses our DMs")
    assert ADVICE in warning and "X_ACCESS_TOKEN" in warning and "another channel" in warning
    assert "refused our credentials" not in caplog.text

    ref = await connector.send(answer(tweet, "Sorry, checking now", key="outbox-2"))
    assert [s["type"] for s in sim.sent] == ["tweet"] and ref.external_id == sim.sent[0]["id"]
    await drain(connector, store)  # reads succeed...
    assert connector.health().state == "degraded"  # ...and do not hide the refusal

    with pytest.raises(ConnectorError):
        await connector.send(answer(dm, "Another answer", key="outbox-3"))
    assert (
        len(warnings_saying(caplog, "refuses our DMs")) == 1
        and "DM replies still refused" in caplog.text
    )

    sim.faults.remove(refusal)  # the permission was granted and the token regenerated
    await connector.send(answer(dm, "We are on it", key="outbox-4"))
    health = connector.health()
    assert health.state == "ok" and health.last_error is None
    assert [s["type"] for s in sim.sent] == ["tweet", "dm"]
    for secret in sim.env().values():
        assert secret not in caplog.text and secret not in reason


async def test_dm_lookup_403_cannot_tell_and_leaves_the_credentials_valid(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("quinn", "hello")
    item, connector = await _one(sim, mentions=False)
    sim.inject(DM_LOOKUP, status=403, times=10**9)

    with pytest.raises(ConnectorError) as caught:
        await connector.find_sent(answer(item, "Hi Quinn"))  # type: ignore[attr-defined]

    assert not isinstance(caught.value, AuthError)  # reconcile: "the platform did not answer"
    assert "lacks the Direct Message permission" in str(caught.value)
    health = connector.health()  # type: ignore[attr-defined]
    assert health.state == "degraded" and health.token_valid is True
    assert "refused our credentials" not in caplog.text
    assert sim.count(DM_LOOKUP) == 1


async def test_401_on_a_dm_reply_is_still_refused_credentials(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("rosa", "hello")
    item, connector = await _one(sim, mentions=False)
    sim.inject(SEND_DM, method="POST", status=401, times=10**9)

    with pytest.raises(AuthError):
        await connector.send(answer(item, "Hi Rosa"))  # type: ignore[attr-defined]

    health = connector.health()  # type: ignore[attr-defined]
    assert health.state == "down" and health.token_valid is False
    assert "refused our credentials on send DM" in caplog.text
    assert warnings_saying(caplog, "refuses our DMs") == [] and sim.sent == []


async def test_dm_403_about_the_recipient_fails_that_reply_only(
    sim: XSim, caplog: pytest.LogCaptureFixture
) -> None:
    sim.state.add_dm("sven", "hello")
    item, connector = await _one(sim, mentions=False)
    closed = "You cannot send messages to users who are not following you."
    sim.inject(SEND_DM, method="POST", status=403, detail=closed)

    with pytest.raises(ConnectorError) as refused:
        await connector.send(answer(item, "Hi Sven"))  # type: ignore[attr-defined]

    assert not isinstance(refused.value, AuthError) and closed in str(refused.value)
    assert "permission" not in str(refused.value)  # not blamed on the app
    health = connector.health()  # type: ignore[attr-defined]
    assert health.state == "ok" and health.token_valid is True
    assert (
        warnings_saying(caplog, "refuses our DMs") == []
        and "refused our credentials" not in caplog.text
    )
