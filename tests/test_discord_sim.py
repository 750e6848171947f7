"""The fake Discord speaks the documented wire format (checked against ../shared/fixtures)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from tests.sims.discord_bot import Launcher, launch, sim
from tests.sims.discord_sim import FakeDiscord
from tests.support.shared import shared_path

__all__ = ["launch", "sim"]


def fixture(name: str) -> dict[str, Any]:
    path = shared_path("fixtures", "discord", name)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def assert_same_shape(documented: dict[str, Any], ours: dict[str, Any], where: str) -> None:
    """Every documented key is present with the same JSON type (null stays null-able)."""
    missing = sorted(set(documented) - set(ours))
    assert not missing, f"{where}: keys missing from the fake: {missing}"
    for key, value in documented.items():
        if value is None or ours[key] is None:
            continue
        assert type(ours[key]) is type(value), f"{where}.{key}: {type(ours[key])} vs {type(value)}"
        if isinstance(value, dict):
            assert_same_shape(value, ours[key], f"{where}.{key}")


async def gateway_frames(sim: FakeDiscord, channel: int) -> list[dict[str, Any]]:
    """A raw websocket client: HELLO, IDENTIFY, READY, GUILD_CREATE, one MESSAGE_CREATE."""
    frames: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.gateway_url) as ws:
        frames.append(await ws.receive_json())
        await ws.send_json({"op": 2, "d": {"token": sim.token, "intents": 0, "properties": {}}})
        frames.append(await ws.receive_json())  # READY
        frames.append(await ws.receive_json())  # GUILD_CREATE
        await sim.post(channel, sim.add_user("alice"), "hello", mention_bot=True)
        frames.append(await ws.receive_json())
        await ws.send_json({"op": 1, "d": frames[-1]["s"]})
        frames.append(await ws.receive_json())  # HEARTBEAT_ACK
    return frames


async def test_message_create_matches_the_documented_message(sim: FakeDiscord) -> None:
    documented = fixture("discord_api_docs_example_message.json")
    envelope = fixture("discord_api_docs_gateway_envelope.json")
    channel = sim.add_channel("support")

    hello, ready, guild, created, ack = await gateway_frames(sim, channel)

    for frame in (hello, ready, guild, created, ack):
        assert set(frame) == set(envelope)
    assert (hello["op"], ack["op"]) == (10, 11)
    assert (ready["t"], guild["t"], created["t"]) == ("READY", "GUILD_CREATE", "MESSAGE_CREATE")
    assert created["s"] > guild["s"] > ready["s"]
    message = created["d"]
    documented.pop("reactions")  # only present once someone reacted
    assert_same_shape(documented, message, "MESSAGE_CREATE")
    assert message["guild_id"] == str(sim.guild_id) and "member" in message
    datetime.fromisoformat(message["timestamp"])


async def test_rest_answers_exactly_application_json(sim: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {sim.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{sim.api_base}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["id"] == sim.bot["id"]
        async with session.get(f"{sim.api_base}/users/@me") as response:
            assert response.status == 401


async def test_the_documented_example_message_parses_into_an_inbound(
    sim: FakeDiscord, launch: Launcher
) -> None:
    documented = fixture("discord_api_docs_example_message.json")
    channel = sim.add_channel("support")
    example = copy.deepcopy(documented)
    example["channel_id"] = str(channel)
    example["mentions"] = [sim.bot]
    sim.history[channel].append(example)
    running = launch(channel_ids=(channel,))
    running.cursors.values[("discord", f"channel:{channel}")] = str(int(documented["id"]) - 1)

    running.start(follow=False)
    await running.finished()

    [item] = running.received
    assert item.external_id == documented["id"]
    assert item.author.id == documented["author"]["id"]
    assert item.author.handle == documented["author"]["username"]
    assert item.text == documented["content"]
    # discord.py dates a message by its snowflake; the docs' example is 17 s off its timestamp
    drift = item.created_at - datetime.fromisoformat(documented["timestamp"])
    assert abs(drift) < timedelta(minutes=1)
    assert not item.author.is_bot
