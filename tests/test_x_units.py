"""Settings, text rules and parsing details of the X connector, without a network."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.base import ConnectorContext
from connectors.x import XConnector, XSettings
from connectors.x.parse import Identity, MalformedItem, dm_to_inbound, tweet_to_inbound
from connectors.x.polling import search_key
from connectors.x.text import comparable, trim, trim_tweet, weighted_length
from tests.sims.x_testkit import Store


def test_weighted_length_counts_like_x() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length("日本") == 4  # CJK weighs 2
    assert weighted_length("see https://example.com/a/very/long/path/indeed") == 4 + 23
    assert weighted_length("“quotes” – ok") == 13  # general punctuation weighs 1


def test_trim_keeps_short_text_and_cuts_long_text_with_a_mark() -> None:
    assert trim_tweet("  short  ") == "short"
    cut = trim_tweet("word " * 100)
    assert weighted_length(cut) <= 280 and cut.endswith("…") and not cut.endswith(" …")


def test_trim_never_cuts_inside_a_url() -> None:
    text = "x" * 250 + " https://example.com/" + "p" * 40
    cut = trim(text, 270)
    assert "https://" not in cut and weighted_length(cut) <= 270


def test_comparable_undoes_what_x_does_to_a_posted_text() -> None:
    posted = "Thanks & sorry <3 see https://status.example.com/incident/1"
    returned = "@amy @bob Thanks &amp; sorry &lt;3 see https://t.co/AbCdEf"
    assert comparable(posted) == comparable(returned)
    assert comparable("Thanks") != comparable("Thanks again")


def test_settings_reject_unknown_keys_and_secrets_in_place_of_names() -> None:
    with pytest.raises(ValidationError, match="extra"):
        XSettings(bearer_token="AAAA")  # type: ignore[call-arg]
    with pytest.raises(ValidationError) as caught:
        XSettings(bearer_token_env="AAAAAAAAAAAAAAAAAAAAAK%2Fxyz%3Dsecret")
    assert "NAME of an environment variable" in str(caught.value)


def test_search_needs_queries_and_backoff_bounds_are_consistent() -> None:
    with pytest.raises(ValidationError, match="search_queries"):
        XSettings(search=True)
    with pytest.raises(ValidationError, match="backoff_max_seconds"):
        XSettings(backoff_initial_seconds=10, backoff_max_seconds=1)
    ok = XSettings(search=True, search_queries=["acme -is:retweet"], handle="@AcmeCare")
    assert ok.search_queries == ("acme -is:retweet",) and ok.our_handle == "AcmeCare"


def test_settings_are_frozen_and_page_size_follows_x_limits() -> None:
    with pytest.raises(ValidationError):
        XSettings(page_size=101)
    settings = XSettings()
    with pytest.raises(ValidationError):
        settings.poll_interval_seconds = 1  # type: ignore[misc]


def test_connector_repr_never_shows_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_BEARER_TOKEN", "super-secret-bearer")
    connector = XConnector(XSettings(), ConnectorContext("x", Store()))
    assert repr(connector) == "<XConnector 'x'>"
    assert connector.max_length == 280


def test_search_cursor_key_is_stable_and_distinct() -> None:
    assert search_key("acme") == search_key("acme")
    assert search_key("acme") != search_key("acme -is:retweet")
    assert len(search_key("x" * 500)) < 40  # fits any cursor column


ME = Identity.build("1", "AcmeCare", ["@HelperBot", "77"])


def test_identity_marks_self_and_known_bots_by_handle_or_id() -> None:
    assert ME.author("1", None).is_self
    assert ME.author("5", {"id": "5", "username": "helperbot"}).is_bot
    assert ME.author("77", {"id": "77", "username": "other"}).is_bot
    plain = ME.author("9", None)
    assert plain.handle == "9" and not plain.is_bot  # author missing from includes


def test_tweet_without_created_at_takes_the_time_from_its_id() -> None:
    item = tweet_to_inbound(
        {"id": "1578516295611748353", "text": "hi", "author_id": "9"},
        {},
        ME,
        channel="x",
        cursor_key="mentions",
        source="mentions",
    )
    assert item.created_at.isoformat().startswith("2022-10-07T22:4")


@pytest.mark.parametrize(
    "raw",
    [
        {"text": "no id", "author_id": "9"},
        {"id": "abc", "text": "bad id", "author_id": "9"},
        {"id": "10", "author_id": "9"},
        {"id": "10", "text": 5, "author_id": "9"},
        {"id": "10", "text": "x", "author_id": "9", "created_at": "tuesday"},
    ],
)
def test_malformed_tweets_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(MalformedItem) as caught:
        tweet_to_inbound(raw, {}, ME, channel="x", cursor_key="m", source="mentions")  # type: ignore[arg-type]
    assert "bad id" not in str(caught.value) and "tuesday" not in str(caught.value)


def test_group_dm_has_no_participant_and_replies_into_the_conversation() -> None:
    item = dm_to_inbound(
        {
            "id": "11",
            "text": "hi all",
            "sender_id": "1",
            "dm_conversation_id": "1585800614365339648",
        },
        {},
        ME,
        channel="x",
        cursor_key="dms",
    )
    assert item.thread == "1585800614365339648" and "participant_id" not in item.meta


def test_documented_example_section_is_valid_and_complete() -> None:
    example = Path(__file__).resolve().parents[1] / "docs" / "connectors" / "x.example.toml"
    section = tomllib.loads(example.read_text(encoding="utf-8"))["connectors"]["x"]

    settings = XSettings.model_validate(section)

    documented = set(section) | {"api_base_url", "type"}  # commented out / implied
    assert documented == set(XSettings.model_fields)
    assert settings.user_id == "1234567890" and not settings.search
