"""tweepy's v2 Client behind an async, typed facade that speaks ``bot.errors``.

Why the sync ``tweepy.Client`` in a worker thread rather than ``AsyncClient``: its session is
a public ``requests.Session``, so one mounted adapter gives every request a timeout (tweepy
sets none, and a hung socket would stall the connector forever) and, for tests and proxies,
sends ``https://api.twitter.com`` to ``api_base_url`` while all of tweepy's own code (OAuth 1.0a
signing, parameters, error classes) still runs. Each client is used by one task at a time
(a lock), because a ``requests.Session`` is not meant to be shared between threads.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
import tweepy
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from bot.errors import AuthError, ConfigError, ConnectorError, RateLimited, TransientError
from connectors.base import Health, env_secret
from connectors.x.settings import XSettings

log = logging.getLogger(__name__)

TWITTER = "https://api.twitter.com"
# X's problem type for a 403 to an app (or a user token) whose permission level is too low
# for the endpoint; on a write, the app has "Read" only and lacks WRITE_PERMISSION.
OAUTH1_PERMISSIONS = "https://api.twitter.com/2/problems/oauth1-permissions"
WRITE_PERMISSION = "Read and write"


class MaybePosted(TransientError):
    """A write failed in a way that does not tell whether X stored it (timeout, 5xx).

    Retrying blindly could post a reply twice; the connector first asks X whether it did.
    """


class DuplicateContent(ConnectorError):
    """X refused a tweet identical to one we already posted: usually our own earlier try."""


class MissingPermission(ConnectorError):
    """X refused one endpoint (403) that needs a permission our app or its token lacks.

    Unlike refused credentials this concerns that endpoint only (DMs on an app without Direct
    Message access, tweets on a read-only app): the caller pauses what needs it and keeps
    reading the rest, and a reply that needs it fails for good with that reason instead of
    waiting for new credentials.
    """

    def __init__(self, what: str, reason: str, permission: str) -> None:
        super().__init__(f"X {what}: {reason}: no {permission} permission")
        self.what = what
        self.reason = reason
        self.permission = permission


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets read from the environment; SecretStr keeps them out of every repr."""

    bearer: SecretStr | None
    consumer_key: SecretStr
    consumer_secret: SecretStr
    access_token: SecretStr
    access_token_secret: SecretStr

    @classmethod
    def from_env(cls, settings: XSettings, channel: str) -> Credentials:
        """Fail at start-up, naming the variables (never a value), when any is missing."""
        names = {
            "consumer_key": settings.consumer_key_env,
            "consumer_secret": settings.consumer_secret_env,
            "access_token": settings.access_token_env,
            "access_token_secret": settings.access_token_secret_env,
        }
        values = {field: env_secret(variable) for field, variable in names.items()}
        missing = [names[field] for field, value in values.items() if value is None]
        if missing:
            raise ConfigError(
                f"connectors.{channel}: environment variable(s) {', '.join(missing)} not set "
                "(OAuth 1.0a user-context credentials are needed to read DMs and to reply)"
            )
        return cls(bearer=env_secret(settings.bearer_token_env), **values)  # type: ignore[arg-type]


class _XAdapter(HTTPAdapter):
    """Adds the timeout tweepy never sets and, when configured, re-targets the host."""

    def __init__(self, base_url: str | None, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._base_url = base_url
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        if self._base_url and request.url and request.url.startswith(TWITTER):
            request.url = self._base_url + request.url[len(TWITTER) :]
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


class _Redact(logging.Filter):
    """Blank credentials out of the DEBUG lines of tweepy, requests-oauthlib and oauthlib.

    tweepy logs its request headers (the bearer token), the OAuth libraries log the signed
    header and parameters (consumer key, access token). A logger's filter only sees that
    logger's own records, so it is installed on each of them.
    """

    LOGGERS = (
        "tweepy.client",
        "requests_oauthlib.oauth1_auth",
        "oauthlib.oauth1.rfc5849",
        "oauthlib.oauth1.rfc5849.signature",
    )
    _HEADER = re.compile(r"""(['"]?Authorization['"]?: ?['"]?)(Bearer |OAuth )?[^'"\n]*""")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._HEADER.sub(r"\1\2[redacted]", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "[redacted]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _redact(creds: Credentials) -> None:
    values = [creds.consumer_key, creds.consumer_secret, creds.access_token]
    values += [creds.access_token_secret] + ([creds.bearer] if creds.bearer else [])
    for name in _Redact.LOGGERS:
        logger = logging.getLogger(name)
        redact = next((f for f in logger.filters if isinstance(f, _Redact)), None)
        if redact is None:
            redact = _Redact()
            logger.addFilter(redact)
        redact.secrets.update(
            v.get_secret_value() for v in values if len(v.get_secret_value()) >= 4
        )


def _epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def _reason(exc: tweepy.HTTPException) -> str:
    """Status and X's own error text: no header, no credential, no customer text."""
    status = exc.response.status_code
    detail = "; ".join(str(m) for m in exc.api_messages[:2])
    return f"HTTP {status}" + (f" ({detail[:200]})" if detail else "")


class XApi:
    """The few X endpoints socialbot needs, as coroutines returning parsed JSON objects."""

    def __init__(self, settings: XSettings, creds: Credentials, health: Health) -> None:
        _redact(creds)
        self._settings = settings
        self._health = health
        self._bearer = creds.bearer is not None
        self.reader = self._client(creds)
        self.writer = self._client(creds)
        self._read_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        initial = settings.backoff_initial_seconds
        self._backoff = wait_exponential_jitter(
            multiplier=initial, jitter=initial, max=settings.backoff_max_seconds
        )

    def _client(self, creds: Credentials) -> Any:
        client = tweepy.Client(
            bearer_token=creds.bearer.get_secret_value() if creds.bearer else None,
            consumer_key=creds.consumer_key.get_secret_value(),
            consumer_secret=creds.consumer_secret.get_secret_value(),
            access_token=creds.access_token.get_secret_value(),
            access_token_secret=creds.access_token_secret.get_secret_value(),
            return_type=requests.Response,
            wait_on_rate_limit=False,  # we wait ourselves, without holding a thread
        )
        base = self._settings.base_url
        adapter = _XAdapter(base, self._settings.request_timeout_seconds)
        client.session.mount(TWITTER, adapter)
        if base:
            client.session.trust_env = False  # a loopback simulator is never behind a proxy
        return client

    @property
    def reads_use_user_auth(self) -> bool:
        """Without a bearer token, reads fall back to the OAuth 1.0a user context."""
        return not self._bearer

    def close(self) -> None:
        self.reader.session.close()
        self.writer.session.close()

    # -- calls ---------------------------------------------------------------------------

    async def read(
        self,
        what: str,
        call: Callable[..., Any],
        *,
        needs_permission: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """A GET, retried with jittered backoff; a 429 waits for the announced reset.

        With ``needs_permission`` (e.g. "Direct Message") a 403 means that permission is
        missing and raises :class:`MissingPermission`, as :meth:`once` does for writes and
        for a write X refuses with ``oauth1-permissions`` (a read-only app: no
        :data:`WRITE_PERMISSION`). Otherwise a 401/403 is refused credentials
        (:class:`AuthError`, health ``down``).
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            wait=self.wait,
            stop=stop_after_attempt(self._settings.retry_attempts),
            before_sleep=self._log_retry(what),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self.once(
                    what, call, write=False, needs_permission=needs_permission, **params
                )
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def once(
        self,
        what: str,
        call: Callable[..., Any],
        *,
        write: bool,
        needs_permission: str | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """One request; every failure comes out as a ``bot.errors`` class."""
        lock = self._write_lock if write else self._read_lock
        async with lock:
            try:
                response = await asyncio.to_thread(call, **params)
            except tweepy.HTTPException as exc:
                raise self._http_error(what, exc, write, needs_permission) from None
            except requests.ConnectionError as exc:
                # A refused connection never reached X; a reset after sending might have.
                cls = MaybePosted if write and not _never_sent(exc) else TransientError
                raise cls(f"X {what}: connection failed ({type(exc).__name__})") from None
            except requests.Timeout:
                cls = MaybePosted if write else TransientError
                raise cls(f"X {what}: no answer within the timeout") from None
            except requests.RequestException as exc:  # e.g. a body cut off mid-transfer
                cls = MaybePosted if write else TransientError
                raise cls(f"X {what}: {type(exc).__name__}") from None
        self._note_budget(response.headers)
        try:
            payload = response.json()
        except ValueError:
            cls = MaybePosted if write else TransientError
            raise cls(f"X {what}: the answer is not valid JSON") from None
        if not isinstance(payload, dict):
            raise TransientError(f"X {what}: the answer is not a JSON object")
        self._health.success()
        self._health.token_valid = True
        return payload

    def _http_error(
        self, what: str, exc: tweepy.HTTPException, write: bool, needs_permission: str | None
    ) -> Exception:
        reason = _reason(exc)
        if isinstance(exc, tweepy.TooManyRequests):
            reset = _epoch(exc.response.headers.get("x-rate-limit-reset"))
            self._health.rate_limited(0, reset)
            return RateLimited(f"X {what}: rate limited ({reason})", reset_at=reset)
        if isinstance(exc, tweepy.TwitterServerError):
            return (MaybePosted if write else TransientError)(f"X {what}: {reason}")
        if isinstance(exc, tweepy.Forbidden) and write and _problem(exc) == OAUTH1_PERMISSIONS:
            return MissingPermission(what, reason, needs_permission or WRITE_PERMISSION)
        if isinstance(exc, tweepy.Forbidden) and write and _refused_content(exc):
            if any("duplicate" in str(m).lower() for m in exc.api_messages):
                return DuplicateContent(f"X {what}: {reason}")
            return ConnectorError(f"X {what}: refused ({reason})")
        if isinstance(exc, tweepy.Forbidden) and needs_permission:
            return MissingPermission(what, reason, needs_permission)
        if isinstance(exc, tweepy.Unauthorized | tweepy.Forbidden):
            return self._auth_failed(what, reason)
        return ConnectorError(f"X {what}: {reason}")

    def _auth_failed(self, what: str, reason: str) -> AuthError:
        s = self._settings
        self._health.token_valid = False
        self._health.error(f"credentials refused: {reason}", fatal=True)
        log.error(
            "X refused our credentials on %s (%s): check %s, %s, %s, %s, %s and the app's "
            "access level (read+write+DM)",
            what,
            reason,
            s.bearer_token_env,
            s.consumer_key_env,
            s.consumer_secret_env,
            s.access_token_env,
            s.access_token_secret_env,
        )
        return AuthError(f"X {what}: credentials refused ({reason})")

    def _note_budget(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-rate-limit-remaining")
        if remaining is not None and remaining.isdigit():
            self._health.rate_limit_remaining = int(remaining)
            self._health.rate_limit_reset = _epoch(headers.get("x-rate-limit-reset"))

    # -- retry policy --------------------------------------------------------------------

    def wait(self, state: RetryCallState) -> float:
        """Until the announced reset for a 429 (capped), else exponential backoff + jitter."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.reset_at is not None:
            # x-rate-limit-reset has one-second resolution: one more second is safe.
            delay = (exc.reset_at - datetime.now(UTC)).total_seconds() + 1.0
            floor = self._settings.backoff_initial_seconds
            return min(max(delay, floor), self._settings.rate_limit_max_wait_seconds)
        return float(self._backoff(state))

    def _log_retry(self, what: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            self._health.error(str(exc))
            log.warning(
                "X %s failed (attempt %d): %s; retrying in %.2fs",
                what,
                state.attempt_number,
                exc,
                wait,
            )

        return before_sleep


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection itself failed, so the request cannot have reached X."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "NameResolutionError" in text


def _problem(exc: tweepy.HTTPException) -> str | None:
    """The ``type`` of X's problem body: tweepy keeps only its ``detail`` (``api_messages``)."""
    try:
        body = exc.response.json()
    except ValueError:  # requests' JSONDecodeError
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


def _refused_content(exc: tweepy.Forbidden) -> bool:
    """A 403 about this tweet or DM (duplicate, reply not allowed, a recipient who takes no
    DMs from us), not about our credentials or our app's permissions."""
    words = ("duplicate", "not allowed", "reply", "conversation", "deleted", "visible")
    recipient = ("cannot send", "not following")  # a DM recipient who takes none from us
    return any(word in str(m).lower() for m in exc.api_messages for word in words + recipient)
