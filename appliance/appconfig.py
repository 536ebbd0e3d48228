"""The whole config: the daemon's own sections ([daemon], [sim]) and one section per component, each defined
beside its component and named by its spec (appliance/core/registry.py). This module knows no component."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from appliance.config import ConfigError, build_section, merge, read_toml
from appliance.core.registry import load_specs
from appliance.core.spec import ComponentSpec

DEFAULT_PATH = Path("/etc/appliance/appliance.toml")
log = logging.getLogger("appliance.config")

T = TypeVar("T")

# [maintenance] keys that moved to [daemon]; the old spelling keeps working (CONTRACT.md), with a log line.
MOVED_TO_DAEMON = ("stop_timeout", "watchdog_max_lag")


@dataclass(frozen=True)
class DaemonConfig:
    """[daemon]: the daemon's own operation (systemd integration)."""

    stop_timeout: float = 20.0  # seconds for an orderly stop after SIGTERM (below the unit's TimeoutStopSec)
    watchdog_max_lag: float = 1.0  # event-loop lag (s) above which the systemd watchdog is not fed

    def validate(self) -> None:
        if self.stop_timeout <= 0:
            raise ValueError("stop_timeout", "must be positive")
        if self.watchdog_max_lag <= 0:
            raise ValueError("watchdog_max_lag", "must be positive")


@dataclass(frozen=True)
class SimConfig:
    """[sim]: only with `appliance run --sim`."""

    control: str = "127.0.0.1:9190"
    scenario: str = "day"
    speed: float = 1.0


CORE_SECTIONS: dict[str, type[Any]] = {"daemon": DaemonConfig, "sim": SimConfig}


class AppConfig:
    """Every section, checked. A component is given only its own (`section(cls)` or `by_name(name)`)."""

    def __init__(self, sections: Mapping[str, Any], source: str, deprecations: Sequence[str] = ()) -> None:
        self._sections = dict(sections)
        self.source = source
        self.deprecations = list(deprecations)

    @property
    def daemon(self) -> DaemonConfig:
        return self.section(DaemonConfig)

    @property
    def sim(self) -> SimConfig:
        return self.section(SimConfig)

    def section(self, cls: type[T]) -> T:
        for value in self._sections.values():
            if type(value) is cls:
                return value
        raise KeyError(f"no section of type {cls.__name__}")

    def by_name(self, name: str) -> Any:
        return self._sections.get(name)

    def names(self) -> list[str]:
        return list(self._sections)

    def __getattr__(self, name: str) -> Any:
        """`config.avionics`: a section by name, for scripts and tests (the daemon's code uses `section(cls)`,
        which is typed)."""
        sections = self.__dict__.get("_sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(f"no config section {name!r}")


def _move_deprecated(document: dict[str, Any], source: str) -> list[str]:
    """[maintenance] stop_timeout / watchdog_max_lag -> [daemon], unless [daemon] sets them itself."""
    notes: list[str] = []
    maintenance = document.get("maintenance")
    if not isinstance(maintenance, Mapping) or not any(k in maintenance for k in MOVED_TO_DAEMON):
        return notes
    maintenance = dict(maintenance)
    daemon = document.get("daemon")
    if daemon is not None and not isinstance(daemon, Mapping):
        return notes  # the section check below names the problem
    daemon = dict(daemon or {})
    for key in MOVED_TO_DAEMON:
        if key in maintenance:
            value = maintenance.pop(key)
            daemon.setdefault(key, value)
            notes.append(f"{source}: maintenance.{key} is deprecated: write daemon.{key}")
    document["maintenance"] = maintenance
    document["daemon"] = daemon
    return notes


def parse_config(
    document: Mapping[str, Any], source: str, specs: Sequence[ComponentSpec[Any]] | None = None
) -> AppConfig:
    """Check a whole TOML document against the core sections and the components' (all registered ones by
    default). Raises ConfigError naming `source` and the dotted key."""
    if not isinstance(document, Mapping):
        raise ConfigError(source, "-", "expected a table at the top level")
    document = dict(document)
    deprecations = _move_deprecated(document, source)
    classes: dict[str, type[Any]] = dict(CORE_SECTIONS)
    for spec in specs if specs is not None else load_specs():
        if spec.config is not None:
            classes[spec.name] = spec.config
    for name, value in document.items():
        if name not in classes:
            raise ConfigError(source, name, f"unknown section (known: {', '.join(sorted(classes))})")
        if not isinstance(value, Mapping):
            raise ConfigError(source, name, f"expected a [{name}] table, got {type(value).__name__}")
    sections: dict[str, Any] = {}
    for name, cls in classes.items():
        try:
            sections[name] = build_section(cls, document.get(name, {}), source, name)
        except ConfigError as error:
            moved = error.key.removeprefix("daemon.")
            if name == "daemon" and any(note.startswith(f"{source}: maintenance.{moved} ") for note in deprecations):
                raise ConfigError(source, f"maintenance.{moved}", error.message) from None  # as it was written
            raise
    return AppConfig(sections, source, deprecations)


def load_config(
    path: Path | None, defaults: Mapping[str, Any] | None = None, specs: Sequence[ComponentSpec[Any]] | None = None
) -> AppConfig:
    """Load `path` (if given) over `defaults` (the simulator's, with --sim) and validate it."""
    document: dict[str, Any] = dict(defaults or {})
    source = str(path) if path is not None else "<defaults>"
    if path is not None:
        document = merge(document, read_toml(path))
    config = parse_config(document, source, specs)
    for note in config.deprecations:
        log.warning("%s", note)
    return config
