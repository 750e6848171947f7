"""Loops that sleep until woken must still stop when cancelled at the moment they are woken.

On Python 3.11 ``asyncio.wait_for`` returns normally (and forgets the cancel) when the awaited
event is set in the same tick as the task is cancelled. A staff board woken by a desk action
just as the daemon stopped then ran forever and the daemon never exited (seen in CI).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from bot.desk.board import StaffBoard
from bot.sender import Sender
from bot.stats import RunStats

GUARD = 10.0  # a hang guard, not a timing check


class _EmptyStaffRepo:
    async def dirty_cards(self) -> list[Any]:
        return []

    async def pending_notices(self) -> list[Any]:
        return []


class _EmptyOutbox:
    lease = timedelta(minutes=5)


async def _stops_when_cancelled_as_woken(
    run: Callable[[], Coroutine[Any, Any, None]], wake: Callable[[], None]
) -> None:
    for _ in range(5):
        task = asyncio.create_task(run())
        await asyncio.sleep(0.02)  # asleep in its wait
        wake()
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=GUARD)
        assert done == {task}, "the loop swallowed the cancel and kept running"
        assert task.cancelled()


async def test_staff_board_stops_when_cancelled_just_as_it_is_woken() -> None:
    board = StaffBoard(_EmptyStaffRepo(), poster=None)  # type: ignore[arg-type]
    await _stops_when_cancelled_as_woken(lambda: board.run(0.5), board.wake)


async def test_sender_stops_when_cancelled_just_as_it_is_woken() -> None:
    sender = Sender(
        _EmptyOutbox(),  # type: ignore[arg-type]
        {},
        RunStats(),
        max_attempts=3,
        poll_seconds=0.5,
    )
    await _stops_when_cancelled_as_woken(sender.run, sender.wake)
