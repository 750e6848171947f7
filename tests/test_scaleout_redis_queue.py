"""The Redis Streams work queue against the real Redis on 127.0.0.1:6379.

Each test uses its own key prefix and deletes only the keys it created.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from bot.queue import Job
from bot.redis_queue import RedisQueue, connect
from tests.support.services import need_tcp

URL = "redis://127.0.0.1:6379/0"
QueueFactory = Callable[..., RedisQueue]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    need_tcp("127.0.0.1", 6379, "Redis")
    name = f"socialbot-test:{secrets.token_hex(4)}"
    yield name
    client = Redis.from_url(URL, decode_responses=True)
    keys = [key async for key in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def make_queue(prefix: str) -> AsyncIterator[QueueFactory]:
    made: list[RedisQueue] = []

    def make(consumer: str, **options: object) -> RedisQueue:
        settings: dict[str, object] = {"maxsize": 1000, "claim_idle_seconds": 60.0}
        settings.update(options)
        queue = RedisQueue(
            connect(URL),
            stream=f"{prefix}:inbound",
            group="workers",
            consumer=consumer,
            **settings,  # type: ignore[arg-type]
        )
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.close()


async def test_put_get_done_leaves_an_empty_stream(make_queue: QueueFactory) -> None:
    queue = make_queue("w1")
    await queue.put_many([1, 2, 3])
    assert await queue.length() == 3

    jobs = await queue.get_many(10)
    assert [job.interaction_id for job in jobs] == [1, 2, 3]
    assert all(job.token for job in jobs)
    assert await queue.length() == 3  # delivered, not yet acknowledged

    await queue.done_many(jobs)
    assert await queue.length() == 0
    await asyncio.wait_for(queue.join(), 5)


async def test_put_waits_while_the_stream_is_full(make_queue: QueueFactory) -> None:
    queue = make_queue("w1", maxsize=5)
    producer = asyncio.create_task(queue.put_many(list(range(1, 13))))
    seen: list[int] = []
    while len(seen) < 12:
        jobs = await asyncio.wait_for(queue.get_many(3), 5)
        assert await queue.length() <= 5  # never more unfinished work than the bound
        seen += [job.interaction_id for job in jobs]
        if len(seen) < 12:
            assert not producer.done() or len(seen) >= 7
        await queue.done_many(jobs)
    await asyncio.wait_for(producer, 5)
    assert seen == list(range(1, 13))


async def test_two_consumers_share_a_stream_without_duplicate_or_loss(
    make_queue: QueueFactory,
) -> None:
    producer = make_queue("producer", maxsize=50)
    consumers = [make_queue("a"), make_queue("b")]
    taken: dict[str, list[int]] = {"a": [], "b": []}
    total = 600

    async def consume(queue: RedisQueue) -> None:
        while True:
            jobs = await queue.get_many(7)
            taken[queue.consumer] += [job.interaction_id for job in jobs]
            await asyncio.sleep(0)  # let the other consumer in
            await queue.done_many(jobs)

    tasks = [asyncio.create_task(consume(q)) for q in consumers]
    await producer.put_many(list(range(total)))
    await asyncio.wait_for(producer.join(), 30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    everything = taken["a"] + taken["b"]
    assert sorted(everything) == list(range(total))  # no loss, no duplicate
    assert taken["a"] and taken["b"]  # both did work


async def test_entries_of_a_dead_consumer_are_claimed_by_another(
    make_queue: QueueFactory,
) -> None:
    dead = make_queue("dead", claim_idle_seconds=0.3)
    alive = make_queue("alive", claim_idle_seconds=0.3)
    await dead.put_many([10, 11, 12, 13])
    held = await dead.get_many(3)  # the worker dies holding these, never acknowledged
    assert [job.interaction_id for job in held] == [10, 11, 12]

    got: list[Job] = []
    while len(got) < 4:
        got += await asyncio.wait_for(alive.get_many(10), 5)
    assert sorted(job.interaction_id for job in got) == [10, 11, 12, 13]
    await alive.done_many(got)
    assert await alive.length() == 0


async def test_poison_entry_goes_to_the_dead_letter_stream(
    make_queue: QueueFactory, prefix: str
) -> None:
    queue = make_queue("w1", claim_idle_seconds=0.05, max_deliveries=2)
    await queue.put_many([42])
    deliveries = 0
    while True:
        try:
            jobs = await asyncio.wait_for(queue.get_many(1), 1.5)
        except TimeoutError:
            break  # nothing more is delivered
        deliveries += 1
        assert [job.interaction_id for job in jobs] == [42]
        await queue.failed(jobs)  # processing raised every time
    assert deliveries == 2
    assert await queue.length() == 0
    client = Redis.from_url(URL, decode_responses=True)
    dead = await client.xrange(f"{prefix}:inbound:dead")
    await client.aclose()
    assert len(dead) == 1 and dead[0][1]["id"] == "42" and dead[0][1]["deliveries"] == "3"


async def test_malformed_entry_is_dropped_not_looped(make_queue: QueueFactory, prefix: str) -> None:
    queue = make_queue("w1")
    client = Redis.from_url(URL, decode_responses=True)
    await queue.ensure_group()
    await client.xadd(f"{prefix}:inbound", {"id": "not-a-number"})
    await client.aclose()
    await queue.put_many([5])
    jobs = await asyncio.wait_for(queue.get_many(10), 5)
    assert [job.interaction_id for job in jobs] == [5]
    await queue.done_many(jobs)
    assert await queue.length() == 0


def test_repr_never_shows_the_url() -> None:
    queue = RedisQueue(
        Redis.from_url("redis://:hunter2@127.0.0.1:6379/0"), stream="s", group="g", consumer="c"
    )
    assert "hunter2" not in repr(queue) and "stream='s'" in repr(queue)
