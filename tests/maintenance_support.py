"""The daemon as the maintenance listener sees it, for tests: fake components in an assembly, a core context,
and the real listener built from its own section alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import maintenance, ports
from appliance.component import Check
from appliance.core.context import Context
from appliance.core.spec import ASSEMBLY, Assembly, ComponentSpec, Installed
from appliance.core.testing import build_alone
from appliance.maintenance.component import MaintenanceComponent
from tests.ops_support import base_config


@dataclass
class Part:
    name: str
    critical: bool
    check: Check

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Check:
        return self.check


@dataclass
class StateDir:
    path: Path


class Scene:
    """The daemon as the listener sees it: a core context, the assembly of built components (fakes here), and
    the config the listener was built from."""

    def __init__(self, tmp_path: Path, maintenance_table: dict[str, Any]) -> None:
        self.core = Context()
        self.assembly = Assembly(self.core.lifecycle)
        self.core.services.provide(ASSEMBLY, self.assembly, "test")
        self.state_dir = tmp_path / "state"
        self.core.services.provide(ports.STATE_DIR, StateDir(self.state_dir), "test")
        self.table = maintenance_table
        self.lifecycle, self.metrics, self.alarms = self.core.lifecycle, self.core.metrics, self.core.alarms

    def install(self, component: Any, spec: ComponentSpec[Any] | None = None, index: int | None = None) -> None:
        spec = spec or ComponentSpec(name=component.name, build=lambda setup: component, critical=component.critical)
        entry = Installed(spec, component)
        self.assembly.installed.insert(len(self.assembly.installed) if index is None else index, entry)

    def listener(self) -> MaintenanceComponent:
        component = build_alone(maintenance.COMPONENT, self.table, ctx=self.core)
        assert isinstance(component, MaintenanceComponent)
        self.install(component)
        return component


def scene_for(tmp_path: Path, port: int, **maintenance_keys: Any) -> Scene:
    table = base_config(tmp_path, port, maintenance=maintenance_keys)["maintenance"]
    return Scene(tmp_path, table)




class FakeDiscretes:
    """The discretes as their maintenance route sees them: one output, one input."""

    name = "discretes"
    critical = True

    def __init__(self) -> None:
        self.state = {"CABIN_READY": ("output", False), "WOW": ("input", True)}
        self.actions: list[tuple[str, bool, str]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Check:
        return Check.passing()

    def snapshot(self) -> dict[str, Any]:
        return {name: {"direction": d, "state": v} for name, (d, v) in self.state.items()}

    def set_output(self, name: str, value: bool, actor: str) -> None:
        direction, _ = self.state[name]
        if direction != "output":
            raise ValueError(f"{name} is an input")
        self.state[name] = (direction, value)
        self.actions.append((name, value, actor))
