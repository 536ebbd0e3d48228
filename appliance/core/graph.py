"""The start order, from the components' declared services: a topological sort that names what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appliance.core.services import ServiceKey
from appliance.core.spec import ComponentSpec


class WiringError(Exception):
    """A required service nobody provides, a service provided twice, or a dependency cycle."""


def start_order(specs: Sequence[ComponentSpec[Any]], given: Sequence[ServiceKey[Any]] = ()) -> list[ComponentSpec[Any]]:
    """`specs` ordered so that every provider of a service comes before the components that require or use it.

    `given`: services the root provides itself (they order nothing). Ties keep the order of `specs`.
    Raises WiringError naming the component and the service, or the components of a cycle.
    """
    providers: dict[ServiceKey[Any], list[str]] = {}
    for spec in specs:
        for key in spec.provides:
            providers.setdefault(key, []).append(spec.name)
    for key, names in providers.items():
        if len(names) > 1 and not key.many:
            raise WiringError(f"service {key.name!r} is provided by more than one component: {', '.join(names)}")
    by_name = {spec.name: spec for spec in specs}
    if len(by_name) != len(specs):
        raise WiringError("two components have the same name")
    after: dict[str, set[str]] = {spec.name: set() for spec in specs}
    for spec in specs:
        for key in spec.requires:
            if key in given:
                continue
            if key not in providers:
                raise WiringError(f"{spec.name} requires {key.name!r}, which no component provides")
            after[spec.name].update(name for name in providers[key] if name != spec.name)
        for key in spec.uses:
            after[spec.name].update(name for name in providers.get(key, ()) if name != spec.name)
    ordered: list[ComponentSpec[Any]] = []
    done: set[str] = set()
    while len(ordered) < len(specs):
        ready = [s for s in specs if s.name not in done and after[s.name] <= done]
        if not ready:
            raise WiringError("dependency cycle: " + _cycle(after, done))
        ordered.append(ready[0])
        done.add(ready[0].name)
    return ordered


def _cycle(after: dict[str, set[str]], done: set[str]) -> str:
    """One cycle among the components not yet ordered, as "a -> b -> a"."""
    start = next(name for name in after if name not in done)
    path = [start]
    while True:
        following = sorted(after[path[-1]] - done)[0]
        if following in path:
            loop = [*path[path.index(following):], following]
            return " -> ".join(loop)
        path.append(following)
