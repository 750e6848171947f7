"""The ``[connectors.x]`` section: what to watch, how often, and where the credentials live.

Only the *names* of environment variables are configured here; the secrets themselves are
read from the environment when the connector connects, so a config file can be shared or
committed without leaking anything.
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from connectors.base import ConnectorSettings

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

EnvName = Annotated[str, Field(min_length=1, max_length=128)]


class XSettings(ConnectorSettings):
    """Validated once at start-up; unknown keys are errors (see ConnectorSettings)."""

    # Our own account. Without user_id the connector asks GET /2/users/me at connect.
    user_id: str | None = Field(None, pattern=r"^[0-9]+$")
    handle: str | None = Field(None, pattern=r"^@?[A-Za-z0-9_]{1,15}$")

    # What to watch.
    mentions: bool = True
    dms: bool = True
    search: bool = False
    search_queries: tuple[str, ...] = ()
    known_bots: tuple[str, ...] = ()  # handles or user ids stored but never answered

    poll_interval_seconds: float = Field(60.0, gt=0)
    page_size: int = Field(100, ge=5, le=100)
    # With no stored cursor (first start) fetch what was posted this many hours ago.
    initial_lookback_hours: float = Field(24.0, ge=0, le=24 * 7)
    find_sent_lookback: int = Field(300, ge=5, le=3200)  # our own posts scanned, newest first

    # Names of the environment variables that hold the credentials (never the values).
    bearer_token_env: EnvName = "X_BEARER_TOKEN"  # noqa: S105 - a variable name
    consumer_key_env: EnvName = "X_CONSUMER_KEY"
    consumer_secret_env: EnvName = "X_CONSUMER_SECRET"  # noqa: S105 - a variable name
    access_token_env: EnvName = "X_ACCESS_TOKEN"  # noqa: S105 - a variable name
    access_token_secret_env: EnvName = "X_ACCESS_TOKEN_SECRET"  # noqa: S105 - a variable name

    # Transport. api_base_url is for testing and proxies: it replaces https://api.twitter.com.
    api_base_url: AnyHttpUrl | None = None
    request_timeout_seconds: float = Field(30.0, gt=0)
    retry_attempts: int = Field(5, ge=1, le=50)
    backoff_initial_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(60.0, gt=0)
    rate_limit_max_wait_seconds: float = Field(900.0, gt=0)

    @field_validator(
        "bearer_token_env",
        "consumer_key_env",
        "consumer_secret_env",
        "access_token_env",
        "access_token_secret_env",
    )
    @classmethod
    def _looks_like_env_name(cls, value: str) -> str:
        # Deliberately does not echo the value: someone may have pasted a secret here.
        if not _ENV_NAME.match(value):
            raise ValueError("must be the NAME of an environment variable, not a credential")
        return value

    @field_validator("search_queries")
    @classmethod
    def _non_empty_queries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        queries = tuple(q.strip() for q in value)
        if any(not q or len(q) > 512 for q in queries):
            raise ValueError("each search query must be 1 to 512 characters")
        return queries

    @model_validator(mode="after")
    def _search_needs_queries(self) -> Self:
        if self.search and not self.search_queries:
            raise ValueError("search = true needs at least one entry in search_queries")
        if self.backoff_max_seconds < self.backoff_initial_seconds:
            raise ValueError("backoff_max_seconds must be >= backoff_initial_seconds")
        return self

    @property
    def our_handle(self) -> str | None:
        return self.handle.lstrip("@") if self.handle else None

    @property
    def base_url(self) -> str | None:
        return str(self.api_base_url).rstrip("/") if self.api_base_url else None
