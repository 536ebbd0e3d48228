"""The whole config: one section per component, each defined beside its component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.avionics.config import AvionicsConfig
from appliance.config import ConfigError, build_section, merge, read_toml
from appliance.content.config import ContentConfig
from appliance.discretes.config import DiscretesConfig
from appliance.groundlink.config import GroundlinkConfig
from appliance.maintenance.config import MaintenanceConfig
from appliance.modem.config import ModemConfig
from appliance.portal.config import PortalConfig
from appliance.sensors.config import SensorsConfig
from appliance.storage.config import StorageConfig

DEFAULT_PATH = Path("/etc/appliance/appliance.toml")


@dataclass(frozen=True)
class SimConfig:
    """[sim]: only with `appliance run --sim`."""

    control: str = "127.0.0.1:9190"
    scenario: str = "day"
    speed: float = 1.0


@dataclass(frozen=True)
class AppConfig:
    avionics: AvionicsConfig
    modem: ModemConfig
    groundlink: GroundlinkConfig
    discretes: DiscretesConfig = field(default_factory=DiscretesConfig)
    sensors: SensorsConfig = field(default_factory=SensorsConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    portal: PortalConfig = field(default_factory=PortalConfig)
    maintenance: MaintenanceConfig = field(default_factory=MaintenanceConfig)
    sim: SimConfig = field(default_factory=SimConfig)


def parse_config(document: Mapping[str, Any], source: str) -> AppConfig:
    """Check a whole TOML document. Raises ConfigError naming `source` and the dotted key."""
    if not isinstance(document, Mapping):
        raise ConfigError(source, "-", "expected a table at the top level")
    return _build_top(document, source)


def _build_top(document: Mapping[str, Any], source: str) -> AppConfig:
    import dataclasses
    from typing import get_type_hints

    hints = get_type_hints(AppConfig)
    fields = {f.name: f for f in dataclasses.fields(AppConfig)}
    for name, value in document.items():
        if name not in fields:
            raise ConfigError(source, name, f"unknown section (known: {', '.join(sorted(fields))})")
        if not isinstance(value, Mapping):
            raise ConfigError(source, name, f"expected a [{name}] table, got {type(value).__name__}")
    kwargs: dict[str, Any] = {}
    for name, field_ in fields.items():
        table = document.get(name)
        if table is None:
            if field_.default_factory is dataclasses.MISSING:
                # build from an empty table so the missing required key is the one named
                kwargs[name] = build_section(hints[name], {}, source, name)
            continue
        kwargs[name] = build_section(hints[name], table, source, name)
    return AppConfig(**kwargs)


def load_config(path: Path | None, defaults: Mapping[str, Any] | None = None) -> AppConfig:
    """Load `path` (if given) over `defaults` (the simulator's, with --sim) and validate it."""
    document: dict[str, Any] = dict(defaults or {})
    source = str(path) if path is not None else "<defaults>"
    if path is not None:
        document = merge(document, read_toml(path))
    return parse_config(document, source)
