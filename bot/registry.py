"""Connectors are found by name through the entry-point group `socialbot.connectors`.

A separate package adds a platform by declaring an entry point in that group; the built-in
connectors register the same way in this project's pyproject.toml.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import ValidationError

from bot.config import Config, describe_error
from bot.errors import ConfigError
from connectors.base import Connector, ConnectorContext, CursorStore

log = logging.getLogger(__name__)

GROUP = "socialbot.connectors"


@dataclass(frozen=True, slots=True)
class Installed:
    name: str
    target: str  # module:Class
    error: str | None  # why it cannot be loaded, if it cannot


def installed() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def describe_installed() -> list[Installed]:
    rows = []
    for name, ep in sorted(installed().items()):
        try:
            ep.load()
            error = None
        except Exception as exc:  # a broken plugin must not hide the others
            error = f"{type(exc).__name__}: {exc}"
        rows.append(Installed(name, ep.value, error))
    return rows


def load_class(type_name: str) -> Any:
    found = installed().get(type_name)
    if found is None:
        known = ", ".join(sorted(installed())) or "none"
        raise ConfigError(f"no connector type {type_name!r} is installed (installed: {known})")
    try:
        return found.load()
    except Exception as exc:
        raise ConfigError(f"connector type {type_name!r} failed to load: {exc}") from None


def build_connector(name: str, section: dict[str, Any], cursors: CursorStore, source: str) -> Any:
    type_name = str(section.get("type") or name)
    cls = load_class(type_name)
    try:
        settings = cls.settings_model.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(describe_error(source, exc, prefix=f"connectors.{name}.")) from None
    return cls(settings, ConnectorContext(name=name, cursors=cursors))


def build_connectors(config: Config, cursors: CursorStore) -> list[Connector]:
    """Every enabled connector of the config, validated; a bad section stops start-up."""
    built: list[Connector] = []
    for name, section in config.connectors.items():
        if not isinstance(section, dict):
            raise ConfigError(f"{config.source}: connectors.{name}: must be a table")
        if section.get("enabled", True) is False:
            log.info("connector %s is disabled in the config", name)
            continue
        built.append(build_connector(name, section, cursors, config.source))
    return built
