"""discord.py and aiohttp failures mapped onto the project's error classes, and the retry policy."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
import discord
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from bot.errors import AuthError, ConnectorError, RateLimited, TransientError
from connectors.discord.settings import DiscordSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

# What a Discord call can raise that we know how to classify.
CALL_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def map_error(exc: BaseException, what: str) -> ConnectorError:
    """Say whether retrying can help; messages carry status and Discord's code, never text."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, discord.LoginFailure):
        return AuthError(f"Discord rejected the bot token ({what}: 401)")
    if isinstance(exc, discord.RateLimited):
        reset = datetime.now(UTC) + timedelta(seconds=exc.retry_after)
        return RateLimited(f"Discord asked to wait {exc.retry_after:.0f}s ({what})", reset)
    if isinstance(exc, discord.HTTPException):
        detail = f"{what}: HTTP {exc.status}, Discord code {exc.code}"
        if exc.status == 401:
            return AuthError(f"Discord rejected the bot token ({detail})")
        if exc.status >= 500:
            return TransientError(f"Discord server error ({detail})")
        return ConnectorError(f"Discord refused the request ({detail})")
    if isinstance(exc, discord.GatewayNotFound):
        return TransientError(f"Discord gateway not found ({what})")
    if isinstance(exc, discord.DiscordException):
        return ConnectorError(f"Discord error ({what}: {type(exc).__name__})")
    return TransientError(f"cannot reach Discord ({what}: {type(exc).__name__})")


def _retryable(exc: BaseException) -> bool:
    # A RateLimited here means the wait was longer than max_rate_limit_wait: hand it up.
    return isinstance(exc, TransientError) and not isinstance(exc, RateLimited)


async def call_with_retries(
    settings: DiscordSettings,
    what: str,
    fn: Callable[[], Awaitable[T]],
) -> T:
    """Run ``fn`` with jittered exponential backoff on transient failures.

    discord.py already sleeps through 429s and retries 500/502/504; this adds retries for
    503, dropped connections and timeouts, which it raises at once.
    """

    def before_sleep(state: RetryCallState) -> None:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        log.warning(
            "discord %s failed (attempt %d), retrying: %s", what, state.attempt_number, error
        )

    retrying = AsyncRetrying(
        retry=retry_if_exception(_retryable),
        wait=wait_random_exponential(
            multiplier=settings.retry_initial_wait, max=settings.retry_max_wait
        ),
        stop=stop_after_attempt(settings.retry_attempts),
        before_sleep=before_sleep,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            try:
                return await fn()
            except CALL_ERRORS as exc:
                raise map_error(exc, what) from exc
    raise AssertionError("unreachable: tenacity reraises the last error")
