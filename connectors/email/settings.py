"""The `[connectors.<name>]` section of an email connector (type = "email").

Hosts, ports and TLS modes live in the config file; usernames and (app) passwords only in
environment variables whose *names* the config gives, so a config file can be shared freely.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.errors import AuthError
from connectors.base import ConnectorSettings, env_secret

TlsMode = Literal["ssl", "starttls", "none"]
InitialScan = Literal["unseen", "all", "new"]

_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EmailSettings(ConnectorSettings):
    """One mailbox watched over IMAP, answered over SMTP."""

    address: str = Field(description="our support address: From of replies, is_self inbound")
    display_name: str | None = Field(None, description="shown beside our address in replies")
    also_self: tuple[str, ...] = Field((), description="other addresses that are also us")

    imap_host: str
    imap_port: int | None = Field(None, ge=1, le=65535, description="default 993 / 143")
    imap_tls: TlsMode = "ssl"
    mailbox: str = "INBOX"
    imap_username_env: str = "SOCIALBOT_EMAIL_USERNAME"
    imap_password_env: str = "SOCIALBOT_EMAIL_PASSWORD"  # noqa: S105 (a variable name)

    smtp_host: str
    smtp_port: int | None = Field(None, ge=1, le=65535, description="default 465 / 587 / 25")
    smtp_tls: TlsMode = "starttls"
    smtp_auth: bool = True
    smtp_username_env: str | None = Field(None, description="default: imap_username_env")
    smtp_password_env: str | None = Field(None, description="default: imap_password_env")

    tls_ca_file: str | None = Field(None, description="PEM file of a private CA to trust")

    poll_interval: float = Field(60.0, gt=0, le=3600, description="seconds between polls")
    timeout: float = Field(30.0, gt=0, le=600, description="socket timeout, seconds")
    initial_scan: InitialScan = "unseen"
    max_message_bytes: int = Field(60_000_000, ge=10_000)
    max_text_chars: int = Field(50_000, ge=1_000)
    subject_in_text: bool = Field(True, description="a new conversation's subject opens its text")
    save_sent: bool = Field(True, description="APPEND each reply to sent_mailbox")
    sent_mailbox: str = Field("Sent", description='where find_sent looks; "" for nowhere')
    retry_attempts: int = Field(5, ge=1, le=20)
    retry_max_wait: float = Field(30.0, gt=0, le=600)

    @field_validator("address", "also_self")
    @classmethod
    def _addresses(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        for item in (value,) if isinstance(value, str) else value:
            if not _ADDRESS.match(item):
                raise ValueError(f"{item!r} is not a bare e-mail address (name@domain)")
        return value.lower() if isinstance(value, str) else tuple(a.lower() for a in value)

    @field_validator(
        "imap_username_env", "imap_password_env", "smtp_username_env", "smtp_password_env"
    )
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                f"{value!r} is not an environment variable name (the value goes "
                "in the environment, never in the config file)"
            )
        return value

    @model_validator(mode="after")
    def _plaintext_only_on_loopback(self) -> EmailSettings:
        for host, mode, key in (
            (self.imap_host, self.imap_tls, "imap_tls"),
            (self.smtp_host, self.smtp_tls, "smtp_tls"),
        ):
            if mode == "none" and host not in {"localhost", "127.0.0.1", "::1"}:
                raise ValueError(
                    f"{key} = 'none' sends passwords in clear text: only allowed for localhost"
                )
        return self

    @property
    def imap_port_effective(self) -> int:
        return self.imap_port or (993 if self.imap_tls == "ssl" else 143)

    @property
    def smtp_port_effective(self) -> int:
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "starttls": 587, "none": 25}[self.smtp_tls]

    @property
    def self_addresses(self) -> frozenset[str]:
        return frozenset((self.address, *self.also_self))

    def imap_credentials(self) -> tuple[str, SecretStr]:
        """Read the IMAP login from the environment, or say which variable is missing."""
        return _credentials(self.imap_username_env, self.imap_password_env)

    def smtp_credentials(self) -> tuple[str, SecretStr] | None:
        if not self.smtp_auth:
            return None
        return _credentials(
            self.smtp_username_env or self.imap_username_env,
            self.smtp_password_env or self.imap_password_env,
        )


def _credentials(user_var: str, password_var: str) -> tuple[str, SecretStr]:
    user = env_secret(user_var)
    password = env_secret(password_var)
    missing = [name for name, v in ((user_var, user), (password_var, password)) if v is None]
    if missing:
        # AuthError, not ConfigError: the daemon keeps the other connectors running and
        # retries this one later, as for refused credentials
        raise AuthError(
            f"email connector: environment variable(s) {', '.join(missing)} "
            "not set (username and app password)"
        )
    assert user is not None and password is not None
    return user.get_secret_value(), password
