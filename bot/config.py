"""Settings: TOML for everything, environment variables for secrets; validated once at start."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.dashboard.settings import DashboardSettings
from bot.desk.settings import DeskSettings
from bot.errors import ConfigError
from responders.calendar import CalendarSettings
from responders.routing import RoutingSettings
from responders.templates import ReplySettings
from responders.triage.settings import TriageSettings

DEFAULT_DATABASE = "sqlite:///var/socialbot.sqlite3"
CONFIG_ENV = "SOCIALBOT_CONFIG"
DATABASE_ENV = "SOCIALBOT_DATABASE_URL"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSettings(_Section):
    database_url: str = DEFAULT_DATABASE
    auto_migrate: bool = True  # run Alembic migrations on start
    workers: int = Field(2, ge=1, le=64)
    # 0: score in the daemon's event loop; N: in N child processes (docs/scaling.md)
    scoring_processes: int = Field(0, ge=0, le=64)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    send_max_attempts: int = Field(8, ge=1)
    outbox_poll_seconds: float = Field(1.0, gt=0)
    drain_timeout_seconds: float = Field(30.0, gt=0)
    # Replies per minute per connector name, replacing the connector's built-in pace (which
    # stays under the platform's documented limits): for a higher API tier, or a simulator.
    send_rate_overrides: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)


class HealthSettings(_Section):
    """The daemon's HTTP endpoint: /healthz (JSON) and /metrics (Prometheus)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)  # 0: any free port (it is logged)


class PrivacySettings(_Section):
    retention_days: int = Field(0, ge=0)  # blank message text older than this; 0 keeps it
    purge_interval_hours: float = Field(24.0, gt=0)


class QueueSettings(_Section):
    backend: Literal["memory", "redis"] = "memory"
    # Unfinished messages held between ingest and workers. Latency under a backlog is about
    # (maxsize + what the workers hold) / throughput: 200 (2 workers x batch_size 100) gave
    # ack p99 0.94 s on SQLite at ~700 msg/s, where 300 gave 1.27 s at the same throughput
    # (docs/scaling.md). Keep it at least workers x batch_size (below, workers wait for
    # work); raise it with the number of worker processes.
    maxsize: int = Field(200, ge=1)
    redis_url: str = "redis://127.0.0.1:6379/0"
    stream: str = "socialbot:inbound"
    group: str = "socialbot-workers"
    # Scale-out (docs/scaling.md): jobs a worker takes at once; a Redis entry unacknowledged
    # this long (its consumer died) is claimed by another worker; after this many deliveries
    # it goes to the dead-letter stream ("<stream>:dead" when empty).
    batch_size: int = Field(100, ge=1, le=5000)
    claim_idle_seconds: float = Field(60.0, gt=0)
    max_deliveries: int = Field(5, ge=1)
    dead_letter_stream: str = ""
    # A reply being sent belongs to its worker this long; if the worker dies, another one
    # settles it after that (asks the platform, then sends or not).
    send_lease_seconds: float = Field(300.0, gt=0)


class TicketSettings(_Section):
    first_response_business_hours: float = Field(24.0, gt=0)
    join_window_hours: float = Field(72.0, ge=0)
    ack_cooldown_minutes: float = Field(60.0, ge=0)


class Config(_Section):
    bot: BotSettings = BotSettings()
    queue: QueueSettings = QueueSettings()
    health: HealthSettings = HealthSettings()
    privacy: PrivacySettings = PrivacySettings()
    triage: TriageSettings = TriageSettings()
    routing: RoutingSettings = RoutingSettings()
    replies: ReplySettings = ReplySettings()
    tickets: TicketSettings = TicketSettings()
    calendar: CalendarSettings = CalendarSettings()
    desk: DeskSettings = DeskSettings()  # agent desk, policy clock, follow-ups, CSAT
    dashboard: DashboardSettings = DashboardSettings()  # read-only web dashboard
    # Each connector validates its own section (its settings_model) when it is built.
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def database_url(self) -> str:
        return os.environ.get(DATABASE_ENV) or self.bot.database_url


def describe_error(source: str, exc: ValidationError, prefix: str = "") -> str:
    """One line: file, key, what is wrong (the first problem; the count of others)."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{source}: {prefix}{key}: {message}{more}"


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate the config. No path: $SOCIALBOT_CONFIG, ./socialbot.toml, defaults."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if chosen is None and Path("socialbot.toml").exists():
        chosen = "socialbot.toml"
    if chosen is None:
        return Config()
    file = Path(chosen)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    return parse_config(raw, str(file))


def parse_config(raw: dict[str, Any], source: str = "<config>") -> Config:
    try:
        return Config.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(describe_error(source, exc)) from None
