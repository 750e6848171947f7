"""Reddit settings, credentials and the promise that praw never blocks the event loop."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import ConfigError
from connectors.reddit import RedditSettings
from connectors.reddit.settings import load_credentials
from tests.sims.reddit_sim import RedditSim
from tests.sims.reddit_testkit import ENV, drain, make_connector, reddit_env, sim

__all__ = ["reddit_env", "sim"]  # fixtures

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "connectors" / "reddit.example.toml"
BASE = {"username": "ExampleSupport", "user_agent": "linux:com.example:v1 (by u/ExampleSupport)"}


def test_example_section_is_valid_and_documents_every_key() -> None:
    section = tomllib.loads(EXAMPLE.read_text())["connectors"]["reddit"]
    settings = RedditSettings.model_validate(section)
    text = EXAMPLE.read_text()
    undocumented = [key for key in RedditSettings.model_fields if key != "type" and key not in text]
    assert settings.username == "ExampleSupport"
    assert undocumented == []


def test_names_are_normalised_and_checked() -> None:
    settings = RedditSettings(
        **BASE, subreddits=("r/Gadgets", "/r/ExampleCorp"), keywords=(" Example Phone ",)
    )
    assert settings.subreddits == ("Gadgets", "ExampleCorp")
    assert settings.keywords == ("example phone",)
    assert RedditSettings(**{**BASE, "username": "u/ExampleSupport"}).username == "ExampleSupport"
    with pytest.raises(ValidationError, match="subreddit"):
        RedditSettings(**BASE, subreddits=("not a sub!",))
    with pytest.raises(ValidationError, match="oauth_url"):
        RedditSettings(**BASE, oauth_url="ftp://example")
    with pytest.raises(ValidationError, match="client_secret"):
        RedditSettings(**BASE, client_secret="inline secrets are not a key")  # type: ignore[call-arg]


def test_credentials_come_from_the_named_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = RedditSettings(**BASE, auth="refresh_token", refresh_token_env="MY_REDDIT_TOKEN")
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id-value")

    with pytest.raises(ConfigError) as caught:
        load_credentials(settings, "reddit")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret-value")
    monkeypatch.setenv("MY_REDDIT_TOKEN", "token-value")
    credentials = load_credentials(settings, "reddit")

    assert "REDDIT_CLIENT_SECRET" in str(caught.value) and "MY_REDDIT_TOKEN" in str(caught.value)
    assert "REDDIT_CLIENT_ID" not in str(caught.value) and "id-value" not in str(caught.value)
    assert credentials.refresh_token is not None and credentials.password is None
    assert credentials.refresh_token.get_secret_value() == "token-value"
    assert "token-value" not in repr(credentials) and "secret-value" not in repr(credentials)


@pytest.mark.usefixtures("reddit_env")
async def test_a_slow_praw_call_does_not_block_the_event_loop(sim: RedditSim) -> None:
    name = sim.add_inbox("message", "bob", "hi")
    connector = make_connector(sim)
    await connector.connect()
    gate, reached = asyncio.Event(), asyncio.Event()
    sim.inject("slow", path="/message/unread", gate=gate, reached=reached)  # held until opened

    reading = asyncio.create_task(drain(connector))
    await asyncio.wait_for(reached.wait(), timeout=10)  # the simulator runs on this same loop
    still_reading = not reading.done()
    gate.set()
    items = await reading

    assert still_reading
    assert [i.external_id for i in items] == [name]
    assert "sim-client-secret" not in repr(connector)
    await connector.close()
