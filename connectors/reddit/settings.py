"""The `[connectors.reddit]` section and the credentials it names.

Settings hold only names of environment variables for secrets; :func:`load_credentials`
reads them when the connector starts, so a missing one is reported by variable name while
its value never appears in a repr, a log line or an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from bot.errors import ConfigError
from connectors.base import ConnectorSettings, env_secret

_NAME = re.compile(r"^[A-Za-z0-9_-]{2,21}$")


class RedditSettings(ConnectorSettings):
    """Validated `[connectors.<name>]` section of a Reddit connector."""

    username: str = Field(description="our Reddit account, without u/")
    user_agent: str = Field(
        min_length=10, description="Reddit asks for '<platform>:<app id>:<version> (by u/<name>)'"
    )
    auth: Literal["password", "refresh_token"] = "password"
    client_id_env: str = "REDDIT_CLIENT_ID"
    client_secret_env: str = "REDDIT_CLIENT_SECRET"  # noqa: S105 - a variable name
    password_env: str = "REDDIT_PASSWORD"  # noqa: S105 - a variable name
    refresh_token_env: str = "REDDIT_REFRESH_TOKEN"  # noqa: S105 - a variable name

    poll_interval: float = Field(30.0, gt=0)
    inbox: bool = True
    mentions: bool = True
    messages: bool = True
    comment_replies: bool = True
    post_replies: bool = True

    subreddits: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    listen_comments: bool = True
    listen_submissions: bool = True
    first_start_lookback: float = Field(
        3600.0, ge=0, description="seconds of subreddit history read when no cursor is stored"
    )

    known_bots: tuple[str, ...] = ("AutoModerator",)
    page_size: int = Field(100, ge=1, le=100)
    max_pages: int = Field(10, ge=1, le=10)
    find_sent_depth: int = Field(100, ge=0, le=1000)

    request_timeout: float = Field(16.0, gt=0)
    retry_attempts: int = Field(5, ge=1)
    backoff_initial: float = Field(1.0, ge=0)
    backoff_max: float = Field(60.0, ge=0)
    rate_limit_max_wait: float = Field(900.0, ge=0)

    # For tests and proxies only: where praw sends its requests.
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    short_url: str = "https://redd.it"

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        name = value.strip().removeprefix("/").removeprefix("u/")
        if not _NAME.match(name):
            raise ValueError(f"{value!r} is not a Reddit username")
        return name

    @field_validator("subreddits")
    @classmethod
    def _subreddits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(v.strip().removeprefix("/").removeprefix("r/") for v in value)
        for name in names:
            if not _NAME.match(name):
                raise ValueError(f"{name!r} is not a subreddit name")
        return names

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        words = tuple(v.strip().lower() for v in value)
        if any(not w for w in words):
            raise ValueError("keywords must not be empty strings")
        return words

    @field_validator("oauth_url", "reddit_url", "short_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets read from the environment; their repr shows no value."""

    client_id: SecretStr
    client_secret: SecretStr
    password: SecretStr | None = field(default=None)
    refresh_token: SecretStr | None = field(default=None)


def load_credentials(settings: RedditSettings, section: str) -> Credentials:
    """Read the secrets ``settings`` names; a missing one is a ConfigError naming the variable."""
    wanted = [settings.client_id_env, settings.client_secret_env]
    wanted.append(
        settings.password_env if settings.auth == "password" else settings.refresh_token_env
    )
    values = {variable: env_secret(variable) for variable in wanted}
    missing = [variable for variable, value in values.items() if value is None]
    if missing:
        raise ConfigError(
            f"[connectors.{section}]: environment variable(s) {', '.join(missing)} "
            f"must be set for Reddit {settings.auth} authentication"
        )
    client_id = values[settings.client_id_env]
    client_secret = values[settings.client_secret_env]
    assert client_id is not None and client_secret is not None
    if settings.auth == "password":
        return Credentials(client_id, client_secret, password=values[settings.password_env])
    return Credentials(client_id, client_secret, refresh_token=values[settings.refresh_token_env])
