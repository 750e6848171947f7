"""The ``[connectors.discord]`` section, validated once at start-up."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from connectors.base import ConnectorSettings


class DiscordSettings(ConnectorSettings):
    """Everything the Discord connector reads from TOML; the token itself stays in the env."""

    # Name of the environment variable holding the bot token (never the token itself).
    token_env: str = "DISCORD_BOT_TOKEN"  # noqa: S105 - a variable name, not a secret
    # Guild channels watched for mentions; each has a cursor and is backfilled after outages.
    channel_ids: tuple[int, ...] = ()
    # Also accept live mentions from any other channel the bot can read (no backfill there).
    mentions_everywhere: bool = False
    # Answer direct messages (needs the DM messages intent, which is not privileged).
    dms: bool = True
    # Privileged intent: only needed to read replies to the bot that do not ping it.
    message_content_intent: bool = False
    # Overrides for tests and egress proxies; both unset in production.
    api_base: str | None = None  # replaces https://discord.com/api/v10 (include the version)
    gateway_url: str | None = None  # replaces wss://gateway.discord.gg/ and resume URLs
    # discord.py waits this long after the last GUILD_CREATE before on_ready.
    guild_ready_timeout: float = Field(default=2.0, gt=0, le=60)
    # With no stored cursor, look this far back on first start (0 = only new messages).
    first_start_lookback_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    # How many recently active DM channels are remembered in the "dms" cursor.
    dm_cursor_channels: int = Field(default=20, ge=0, le=24)
    # A 429 asking to wait longer than this is raised as RateLimited instead of slept.
    max_rate_limit_wait: float = Field(default=300.0, ge=30)
    # Retries of REST calls on 5xx and dropped connections (jittered exponential backoff).
    retry_attempts: int = Field(default=5, ge=1, le=20)
    retry_initial_wait: float = Field(default=0.5, gt=0)
    retry_max_wait: float = Field(default=30.0, gt=0)

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("api_base must be an http(s) URL such as https://host/api/v10")
        _plain_only_on_loopback(parts.scheme == "http", parts.hostname, "api_base")
        return value.rstrip("/")

    @field_validator("gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"ws", "wss"} or not parts.netloc:
            raise ValueError("gateway_url must be a ws(s) URL such as wss://host/")
        _plain_only_on_loopback(parts.scheme == "ws", parts.hostname, "gateway_url")
        return value

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum():
            raise ValueError(
                "token_env is the NAME of an environment variable, e.g. DISCORD_BOT_TOKEN"
            )
        return value


def _plain_only_on_loopback(plain: bool, host: str | None, key: str) -> None:
    """The bot token travels with every request: never in clear text off this machine."""
    if not plain:
        return
    try:
        loopback = host == "localhost" or ip_address(host or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{key} without TLS is only allowed for a loopback host")
