"""The component packages the daemon is made of. Adding a component is its package plus one line here.

Each package's `__init__.py` defines `COMPONENT`, a ComponentSpec, and imports nothing heavy (its builder and
CLI import their modules when called), so reading the specs costs the CLI and the config loader little.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from appliance.core.spec import ComponentSpec

# Listed in the order that breaks ties in the start order (appliance/core/graph.py): the declared services
# decide the rest.
PACKAGES: tuple[str, ...] = (
    "appliance.storage",
    "appliance.trust",
    "appliance.content",
    "appliance.discretes",
    "appliance.sensors",
    "appliance.avionics",
    "appliance.modem",
    "appliance.groundlink",
    "appliance.payments",
    "appliance.portal",
    "appliance.network",
    "appliance.update",
    "appliance.maintenance",
)


def load_specs(packages: Sequence[str] = PACKAGES) -> list[ComponentSpec[Any]]:
    specs: list[ComponentSpec[Any]] = []
    for name in packages:
        spec = getattr(importlib.import_module(name), "COMPONENT", None)
        if not isinstance(spec, ComponentSpec):
            raise TypeError(f"{name} defines no COMPONENT = ComponentSpec(...)")
        specs.append(spec)
    return specs
