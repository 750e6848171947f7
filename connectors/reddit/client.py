"""praw, driven from asyncio: one worker thread, our retry policy, our error classes.

Why not plain praw defaults:

* praw is blocking and its ``Reddit`` object is not thread-safe, so every call runs in one
  dedicated worker thread (``asyncio.to_thread`` semantics, but serialised).
* prawcore retries 5xx, timeouts and dropped connections itself, with fixed sleeps and
  blindly, even for a POST that may already have been posted. We switch that off so that
  one tenacity policy (jittered exponential backoff, a cap, configurable) decides, and so
  that ``send()`` can look for its reply before posting it again.
* praw sleeps on RATELIMIT errors up to ``ratelimit_seconds`` inside the thread; we set it
  to 0 and wait in asyncio for exactly the time Reddit names, which stays cancellable.
* A requestor subclass reads the ``x-ratelimit-*`` headers of every response so health
  shows the remaining budget, and waits for an exhausted budget happen in asyncio.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import praw
import prawcore
import requests
from praw.exceptions import ClientException, PRAWException, RedditAPIException
from prawcore.sessions import FiniteRetryStrategy
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_exponential, wait_random

from bot.errors import AuthError, BotError, ConnectorError, RateLimited, TransientError
from connectors.reddit.settings import Credentials, RedditSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

_RATELIMIT_TEXT = re.compile(r"([0-9]+) (milliseconds?|seconds?|minutes?)")
_TOKEN_PATH = "/api/v1/access_token"  # noqa: S105 - a URL path


@dataclass(frozen=True)
class _NoLibraryRetry(FiniteRetryStrategy):
    """prawcore's retry strategy with no retries and no sleeps: tenacity decides instead."""

    retries: int = 0

    def _sleep_seconds(self) -> float | None:
        return None


class RateBudget:
    """The last ``x-ratelimit-*`` headers Reddit sent; written by the worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.remaining: int | None = None
        self.reset_at: datetime | None = None

    def observe(self, headers: Mapping[str, str]) -> None:
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            left, seconds = int(float(remaining)), float(reset)
        except ValueError:
            return
        with self._lock:
            self.remaining = left
            self.reset_at = datetime.now(UTC) + timedelta(seconds=seconds)

    def wait_needed(self) -> float:
        """Seconds until the budget resets when it is exhausted, else 0."""
        with self._lock:
            if self.remaining is None or self.remaining > 0 or self.reset_at is None:
                return 0.0
            return max((self.reset_at - datetime.now(UTC)).total_seconds(), 0.0)


class _ObservingRequestor(prawcore.Requestor):
    """prawcore's requestor, plus the configured timeout and a record of rate-limit headers."""

    def __init__(self, *, budget: RateBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._budget = budget

    def request(self, *args: Any, **kwargs: Any) -> Any:
        # prawcore's Session passes its own constant timeout; ours (from settings) wins.
        kwargs["timeout"] = self.timeout
        response = super().request(*args, **kwargs)
        self._budget.observe(response.headers)
        return response


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _ratelimit_seconds(message: str | None) -> float | None:
    match = _RATELIMIT_TEXT.search(message or "")
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2)
    return (
        amount * 60.0
        if unit.startswith("minute")
        else amount / 1000
        if unit.startswith("milli")
        else float(amount)
    )


def _header_seconds(response: Any) -> float | None:
    for header in ("retry-after", "x-ratelimit-reset"):
        try:
            return float(response.headers[header])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def translate(exc: Exception, *, forbidden_is_auth: bool = True) -> BotError:
    """Map praw/prawcore exceptions to ours. Messages carry status codes, never secrets.

    A 403 on our own resources (account, inbox) means missing access; on someone else's
    (a reply target, a subreddit) it is about that thing only: locked, private, blocked.
    """
    if isinstance(exc, prawcore.TooManyRequests):
        seconds = _header_seconds(exc.response)
        return RateLimited("reddit answered 429", reset_at=_in(seconds) if seconds else None)
    if isinstance(exc, RedditAPIException):
        for item in exc.items:
            if item.error_type == "RATELIMIT":
                seconds = _ratelimit_seconds(item.message)
                return RateLimited("reddit RATELIMIT", reset_at=_in(seconds) if seconds else None)
        kinds = ",".join(item.error_type for item in exc.items)
        return ConnectorError(f"reddit refused the request: {kinds}")
    if isinstance(exc, prawcore.OAuthException):
        return AuthError(f"reddit refused the credentials ({exc.error})")
    if isinstance(exc, prawcore.InvalidToken | prawcore.InsufficientScope):
        return AuthError(f"reddit refused the access token ({type(exc).__name__})")
    if isinstance(exc, prawcore.Forbidden):
        if not forbidden_is_auth:
            return ConnectorError("reddit answered 403: locked, archived, private or blocked")
        return AuthError("reddit answered 403: the account lacks access or scope")
    if isinstance(exc, prawcore.ResponseException):
        return _translate_response(exc)
    if isinstance(exc, prawcore.RequestException):
        return TransientError(f"reddit request failed ({type(exc.original_exception).__name__})")
    if isinstance(exc, ClientException | prawcore.InvalidInvocation):
        return ConnectorError(f"praw refused the call ({type(exc).__name__})")
    return ConnectorError(f"reddit call failed ({type(exc).__name__})")


def _translate_response(exc: prawcore.ResponseException) -> BotError:
    status = exc.response.status_code
    if _TOKEN_PATH in (exc.response.url or "") and status in (400, 401, 403):
        return AuthError(f"reddit refused the client credentials ({status})")
    if status == 429:  # the token endpoint answers 429 without going through TooManyRequests
        seconds = _header_seconds(exc.response)
        return RateLimited("reddit answered 429", reset_at=_in(seconds) if seconds else None)
    if isinstance(exc, prawcore.BadJSON):
        return TransientError("reddit sent a body that is not JSON")
    if status >= 500 or status == 408:
        return TransientError(f"reddit answered {status}")
    return ConnectorError(f"reddit answered {status}")


class RedditClient:
    """A praw ``Reddit`` plus the thread it runs in and the retry policy around it."""

    def __init__(self, settings: RedditSettings, credentials: Credentials, name: str) -> None:
        self.settings = settings
        self.budget = RateBudget()
        self._credentials = credentials
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reddit-{name}")
        self._http = requests.Session()
        self._reddit: praw.Reddit | None = None
        self.on_budget_wait: Callable[[datetime], None] | None = None  # health hook

    def __repr__(self) -> str:
        return f"<RedditClient u/{self.settings.username}>"

    def _build(self) -> praw.Reddit:
        s, c = self.settings, self._credentials
        password = c.password.get_secret_value() if c.password else None
        refresh = c.refresh_token.get_secret_value() if c.refresh_token else None
        reddit = praw.Reddit(
            "DEFAULT",
            client_id=c.client_id.get_secret_value(),
            client_secret=c.client_secret.get_secret_value(),
            username=s.username if password else None,
            password=password,
            refresh_token=refresh,
            user_agent=s.user_agent,
            oauth_url=s.oauth_url,
            reddit_url=s.reddit_url,
            short_url=s.short_url,
            ratelimit_seconds=0,
            check_for_updates=False,
            check_for_async=False,
            requestor_class=_ObservingRequestor,
            requestor_kwargs={
                "budget": self.budget,
                "session": self._http,
                "timeout": s.request_timeout,
            },
        )
        for attribute in ("_core", "_authorized_core", "_read_only_core"):
            core = getattr(reddit, attribute, None)
            if core is None:
                continue
            if hasattr(core, "_retry_strategy_class"):
                core._retry_strategy_class = _NoLibraryRetry
            else:  # pragma: no cover - a prawcore release renamed it
                log.warning("prawcore has no _retry_strategy_class: its own retries stay on")
        return reddit

    def _invoke(self, fn: Callable[[praw.Reddit], T]) -> T:
        """Run in the worker thread. A refused token is fetched anew once (it expired)."""
        if self._reddit is None:
            self._reddit = self._build()
        try:
            return fn(self._reddit)
        except prawcore.InvalidToken:
            log.info("reddit access token refused; requesting a new one")
            return fn(self._reddit)  # prawcore cleared the token: this call refreshes it

    async def call(self, fn: Callable[[praw.Reddit], T], *, forbidden_is_auth: bool = True) -> T:
        """One praw call in the worker thread, with errors translated; no retry here."""
        wait = self.budget.wait_needed()
        if wait > self.settings.rate_limit_max_wait:
            raise RateLimited("reddit rate budget exhausted", reset_at=_in(wait))
        if wait:
            log.info("reddit rate budget exhausted: waiting %.1fs", wait)
            if self.on_budget_wait is not None:
                self.on_budget_wait(_in(wait))
            await asyncio.sleep(wait)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(self._invoke, fn))
        except (prawcore.PrawcoreException, PRAWException) as exc:
            raise translate(exc, forbidden_is_auth=forbidden_is_auth) from None

    def retrying(self, on_retry: Callable[[RetryCallState], None]) -> AsyncRetrying:
        """The tenacity policy: TransientError retried, RateLimited waits Reddit's time."""
        s = self.settings
        backoff = wait_exponential(multiplier=s.backoff_initial, max=s.backoff_max) + wait_random(
            0, s.backoff_initial
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                delay = max((exc.reset_at - datetime.now(UTC)).total_seconds(), 0.0)
                return delay + random.uniform(0, min(delay * 0.1, 1.0))  # noqa: S311
            return float(backoff(state))

        def stop(state: RetryCallState) -> bool:
            return state.attempt_number >= s.retry_attempts or wait(state) > s.rate_limit_max_wait

        return AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop,
            wait=wait,
            before_sleep=on_retry,
            reraise=True,
        )

    async def close(self) -> None:
        """Stop the worker thread (a call in flight finishes in the background)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._http.close)
