"""The [dashboard] config section. The access token is a secret: environment only."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from bot.errors import ConfigError

TOKEN_ENV = "SOCIALBOT_DASHBOARD_TOKEN"  # noqa: S105 - the variable's name, not a secret
MIN_TOKEN_LENGTH = 16


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False  # served by `socialbot run` as well
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    page_size: int = Field(50, ge=10, le=200)  # interaction-log rows per page
    default_days: int = Field(30, ge=1, le=366)  # the overview's period
    # Mark the login cookie Secure even when the request looks like plain HTTP: set it behind
    # a reverse proxy that terminates TLS (the dashboard itself only sees HTTP then).
    cookie_secure: bool = False
    # Brute-force protection: after this many wrong tokens from one client address within
    # the window (sliding), that address is answered 429 until the oldest failure expires.
    login_max_failures: int = Field(5, ge=1, le=1000)
    login_window_seconds: int = Field(60, ge=1, le=86400)


def dashboard_token(env: dict[str, str] | None = None) -> str:
    """The token from the environment, or a clear refusal: no token, no dashboard."""
    token = (env if env is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"the dashboard needs an access token: set {TOKEN_ENV} in the environment "
            f"(at least {MIN_TOKEN_LENGTH} characters, e.g. from `openssl rand -hex 24`)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_LENGTH} characters")
    return token
