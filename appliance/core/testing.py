"""Build one component alone, the way the daemon would: from its own config section only, with the services it
requires given as fakes. For tests and for trying a new component (docs/components.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from appliance.config import build_section
from appliance.core.context import Context
from appliance.core.services import ServiceKey
from appliance.core.spec import ComponentSpec, Setup

C = TypeVar("C")


def setup_for(
    spec: ComponentSpec[C],
    table: Mapping[str, Any] | None = None,
    *,
    services: Mapping[ServiceKey[Any], Any] | None = None,
    ctx: Context | None = None,
    source: str = "<test>",
) -> Setup[C]:
    """The Setup the daemon would hand `spec`'s builder: its section checked from `table` (a TOML table, as in
    the file), `services` provided (a list for a `many` key) as if by other components."""
    ctx = ctx if ctx is not None else Context(config_source=source)
    for key, value in (services or {}).items():
        for item in value if key.many else [value]:
            ctx.services.provide(key, item, "test")
    config: Any = build_section(spec.config, table or {}, source, spec.name) if spec.config is not None else None
    return Setup(spec, config, ctx)


def build_alone(
    spec: ComponentSpec[C],
    table: Mapping[str, Any] | None = None,
    *,
    services: Mapping[ServiceKey[Any], Any] | None = None,
    ctx: Context | None = None,
) -> Any:
    """`spec`'s component, built with only its own section and the given services."""
    component = spec.build(setup_for(spec, table, services=services, ctx=ctx))
    component.critical = spec.critical
    return component
