"""How a component package declares itself, and what its builder is given.

Each component package defines one `COMPONENT = ComponentSpec(...)` in its `__init__.py`: its name (also its
config section), its config dataclass, the services it provides, requires and uses if present, whether it is
critical, its part of `/api/v1/status`, its maintenance routes, its CLI subcommands and which of its keys a
SIGHUP reload can apply live. The composition root reads only these declarations (see docs/components.md).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from appliance.component import Check, Component
from appliance.core.context import Context
from appliance.core.services import ServiceKey, Services
from appliance.lifecycle import Lifecycle, component_check

if TYPE_CHECKING:
    from aiohttp import web

C = TypeVar("C")
T = TypeVar("T")



class Deferred:
    """A spec's builder or hook, "module:function", imported only when it is called: reading the specs (the CLI,
    the config loader) then loads no component's heavy modules. `module` says which module a call loads."""

    def __init__(self, target: str) -> None:
        self.module, _, self.function = target.partition(":")

    def __call__(self, *args: Any) -> Any:
        return getattr(importlib.import_module(self.module), self.function)(*args)


def deferred(target: str) -> Callable[..., Any]:
    return Deferred(target)


def snapshot_section(component: Any) -> Any:
    """The usual status section: the component's own `snapshot()`."""
    return component.snapshot()


def lazy(target: str) -> Callable[[argparse.Namespace], int]:
    """A CLI subcommand's "module:function", imported only when it runs (so `appliance decode` loads no aiohttp)."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        function: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), function_name)
        return function(args)

    return run


@dataclass(frozen=True)
class ComponentSpec(Generic[C]):
    name: str
    build: Callable[[Setup[C]], Component]
    config: type[C] | None = None
    provides: tuple[ServiceKey[Any], ...] = ()
    requires: tuple[ServiceKey[Any], ...] = ()
    uses: tuple[ServiceKey[Any], ...] = ()  # taken when some component provides them, else None
    critical: bool = False  # must stay alive for the systemd watchdog to be fed
    # its sections of /api/v1/status: section name -> reader(built component) -> JSON-ready value
    status: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    routes: Callable[[Any], Sequence[web.RouteDef]] | None = None  # (built component) -> maintenance routes
    cli: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] | None = None
    reloadable: frozenset[str] = field(default_factory=frozenset)  # keys `reload(new_section)` applies live

    def declared(self) -> set[ServiceKey[Any]]:
        return {*self.provides, *self.requires, *self.uses}


class UndeclaredService(Exception):
    """A component asked for, or offered, a service its spec does not declare: a wiring bug, found at build."""


class MissingService(Exception):
    """A required service was not provided (its provider is not in this build)."""


class Setup(Generic[C]):
    """What one component's builder is given: its own config section, the shared facilities, and exactly the
    services its spec declares."""

    def __init__(self, spec: ComponentSpec[C], config: C, ctx: Context) -> None:
        self.spec = spec
        self.config = config
        self.clock = ctx.clock
        self.metrics = ctx.metrics
        assert ctx.alarms is not None
        self.alarms = ctx.alarms
        self.notifier = ctx.notifier
        self.lifecycle = ctx.lifecycle  # the daemon's state: read it; a power-fail stop records itself here
        self.sim_endpoints = ctx.sim_endpoints
        self.config_source = ctx.config_source
        self._ctx = ctx

    def request_stop(self, reason: str) -> None:
        if self._ctx.request_stop is not None:
            self._ctx.request_stop(reason)

    def reserve_descriptors(self, count: int) -> None:
        """This component may hold up to `count` file descriptors of its own (a listener's connection cap): the
        portal's descriptor budget (appliance/httpserve.py) leaves room for every reservation."""
        self._ctx.descriptor_reserve[self.spec.name] = count

    def descriptors_reserved_by_others(self) -> int:
        """What the other components reserved (read at start, once every component is built)."""
        return sum(n for name, n in self._ctx.descriptor_reserve.items() if name != self.spec.name)

    def require(self, key: ServiceKey[T]) -> T:
        if key not in self.spec.requires:
            raise UndeclaredService(f"{self.spec.name} requires {key.name!r} without declaring it in requires")
        value = self._ctx.services.get(key)
        if value is None:
            raise MissingService(f"{self.spec.name} requires {key.name!r}, which no component provided")
        return value

    def use(self, key: ServiceKey[T]) -> T | None:
        if key not in self.spec.requires and key not in self.spec.uses:
            raise UndeclaredService(f"{self.spec.name} uses {key.name!r} without declaring it in uses")
        return self._ctx.services.get(key)

    def use_all(self, key: ServiceKey[T]) -> Sequence[T]:
        """Every provider's value of a `many` key: a live view (values provided later are in it too)."""
        if key not in self.spec.requires and key not in self.spec.uses:
            raise UndeclaredService(f"{self.spec.name} uses {key.name!r} without declaring it in uses")
        return _Live(self._ctx.services, key)

    def provide(self, key: ServiceKey[T], value: T) -> None:
        if key not in self.spec.provides:
            raise UndeclaredService(f"{self.spec.name} provides {key.name!r} without declaring it in provides")
        self._ctx.services.provide(key, value, self.spec.name)


class _Live(Sequence[T]):
    def __init__(self, services: Services, key: ServiceKey[T]) -> None:
        self._services = services
        self._key = key

    def __len__(self) -> int:
        return len(self._services.all(self._key))

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._services.all(self._key)[index]


@dataclass
class Installed:
    spec: ComponentSpec[Any]
    component: Component


@dataclass
class Assembly:
    """The built components with their specs, in start order, and the daemon's lifecycle: what the
    maintenance listener and the ground link's telemetry report on (ASSEMBLY, provided by the root)."""

    lifecycle: Lifecycle
    installed: list[Installed] = field(default_factory=list)

    def components(self) -> list[Component]:
        return [i.component for i in self.installed]

    def checks(self) -> list[tuple[Component, Check]]:
        return [(i.component, component_check(i.component, self.lifecycle)) for i in self.installed]


ASSEMBLY: ServiceKey[Assembly] = ServiceKey(
    "assembly", "every built component with its spec, and the daemon's lifecycle (provided by the root)"
)
