"""A whole-config test rig over the daemon's core: builds chosen components the way the daemon does (each from its
own section, with the services the others provided), and shows those services as attributes (`rig.outbox`,
`rig.modem_power`, ...) for the tests to drive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import ports
from appliance.appconfig import AppConfig
from appliance.core.context import Context
from appliance.core.services import ServiceKey
from appliance.core.spec import ComponentSpec, Setup

SERVICE_KEYS: dict[str, ServiceKey[Any]] = {
    value.name: value for value in vars(ports).values() if isinstance(value, ServiceKey)
}


@dataclass
class _StateDir:
    path: Path


class _Flushables(list[Any]):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self._ctx = ctx

    def append(self, item: Any) -> None:
        super().append(item)
        self._ctx.services.provide(ports.FLUSHABLES, item, "test")


class Rig:
    def __init__(self, config: AppConfig, **context: Any) -> None:
        self.config = config
        self.core = Context(config_source=config.source, **context)
        self.flushables = _Flushables(self.core)
        self.built: list[Any] = []

    # the shared facilities
    @property
    def clock(self) -> Any:
        return self.core.clock

    @property
    def metrics(self) -> Any:
        return self.core.metrics

    @metrics.setter
    def metrics(self, value: Any) -> None:
        self.core.metrics = value

    @property
    def alarms(self) -> Any:
        return self.core.alarms

    @alarms.setter
    def alarms(self, value: Any) -> None:
        self.core.alarms = value

    @property
    def request_stop(self) -> Any:
        return self.core.request_stop

    @property
    def services(self) -> Any:
        return self.core.services

    def setup(self, spec: ComponentSpec[Any]) -> Setup[Any]:
        return Setup(spec, self.config.by_name(spec.name), self.core)

    def build(self, spec: ComponentSpec[Any]) -> Any:
        """`spec`'s component from its section and the services built so far; a STATE_DIR it requires is
        `storage.dir` when no storage component was built."""
        if ports.STATE_DIR in spec.requires and self.core.services.get(ports.STATE_DIR) is None:
            self.core.services.provide(ports.STATE_DIR, _StateDir(Path(self.config.storage.dir)), "test")
        component = spec.build(self.setup(spec))
        component.critical = spec.critical
        self.built.append(component)
        return component

    def __getattr__(self, name: str) -> Any:
        key = SERVICE_KEYS.get(name)
        if key is None:
            raise AttributeError(name)
        return self.__dict__["core"].services.get(key)


def rig_for(specs: list[ComponentSpec[Any]], document: dict[str, Any], **context: Any) -> Rig:
    """A rig whose config has only the sections of `specs` (plus the daemon's own): a component's test writes
    nothing about the others."""
    from appliance.appconfig import parse_config

    return Rig(parse_config(document, "<test>", specs), **context)


@asynccontextmanager
async def started(rig: Rig, specs: Sequence[ComponentSpec[Any]]) -> AsyncIterator[dict[str, Any]]:
    """Build every spec on `rig`, start them in the given order and stop those started in reverse (the
    daemon's order, for tests that wire a few real components together)."""
    parts = {spec.name: rig.build(spec) for spec in specs}
    running: list[Any] = []
    try:
        for spec in specs:
            await parts[spec.name].start()
            running.append(parts[spec.name])
        yield parts
    finally:
        for component in reversed(running):
            await component.stop()
