"""The architecture's rules as code (the way Home Assistant's hassfest checks integrations): every import of
every module under `hal/`, `appliance/` and `firmware_sim/`, at module level, under TYPE_CHECKING and inside
functions alike, parsed with `ast` (nothing is imported), checked against the layers of ARCHITECTURE.md.

Rules (each a function returning its violations, one line each):
- hal/ imports nothing from appliance/ or firmware_sim/;
- appliance/ imports firmware_sim/ only in the one --sim launcher;
- a component package imports no other component package, and only the composition root imports any;
- no import cycle between modules;
- a component package names no service key (appliance.ports.FLIGHT, ...) that its spec does not declare.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TOP = ("hal", "appliance", "firmware_sim")
SIM_LAUNCHER = "appliance.simlaunch"
ROOT_MODULES = frozenset({"appliance.daemon", "appliance.cli", "appliance.simlaunch", "appliance.fsck"})


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[tuple[str, int]] = field(default_factory=list)  # (imported module or name, line)
    names_from: list[tuple[str, str, int]] = field(default_factory=list)  # (module, name, line) of `from m import n`
    attributes: list[tuple[str, str, int]] = field(default_factory=list)  # (alias target module, attr, line)


def scan(root: Path) -> dict[str, Module]:
    """Every module of the project's top-level packages under `root`, with what it imports."""
    modules: dict[str, Module] = {}
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            name = ".".join(parts)
            modules[name] = Module(name, path, is_package)
    for module in modules.values():
        _read_imports(module, modules)
    return modules


def _resolve_relative(module: Module, level: int, target: str | None) -> str:
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([target] if target else [])])


def _read_imports(module: Module, modules: Mapping[str, Module]) -> None:
    tree = ast.parse(module.path.read_text(), str(module.path))
    aliases: dict[str, str] = {}  # local name -> module it names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.imports.append((alias.name, node.lineno))
                top = alias.name.split(".")[0]
                aliases[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_relative(module, node.level, node.module) if node.level else (node.module or "")
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    module.imports.append((submodule, node.lineno))
                    aliases[alias.asname or alias.name] = submodule
                else:
                    module.imports.append((source, node.lineno))
                    module.names_from.append((source, alias.name, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            module.attributes.append((aliases[node.value.id], node.attr, node.lineno))


def _project(name: str) -> str | None:
    top = name.split(".", maxsplit=1)[0]
    return top if top in TOP else None


def _where(module: Module, line: int, root: Path) -> str:
    return f"{module.path.relative_to(root)}:{line}"


def hal_is_below(modules: Mapping[str, Module], root: Path) -> list[str]:
    return [
        f"{_where(m, line, root)}: hal/ imports {target} (hal/ imports nothing from appliance/ or firmware_sim/)"
        for m in modules.values() if m.name.split(".")[0] == "hal"
        for target, line in m.imports if _project(target) in ("appliance", "firmware_sim")
    ]


def simulator_only_in_the_launcher(modules: Mapping[str, Module], root: Path) -> list[str]:
    return [
        f"{_where(m, line, root)}: {m.name} imports {target} (only {SIM_LAUNCHER} may start the simulator)"
        for m in modules.values() if m.name.split(".")[0] == "appliance" and m.name != SIM_LAUNCHER
        for target, line in m.imports if _project(target) == "firmware_sim"
    ]


def _package_of(name: str, packages: Sequence[str]) -> str | None:
    return next((p for p in packages if name == p or name.startswith(p + ".")), None)


def components_stay_apart(modules: Mapping[str, Module], root: Path, packages: Sequence[str]) -> list[str]:
    problems = []
    for module in modules.values():
        own = _package_of(module.name, packages)
        for target, line in module.imports:
            other = _package_of(target, packages)
            if other is None or other == own:
                continue
            if own is not None:
                problems.append(f"{_where(module, line, root)}: component {own} imports component {other} "
                                f"({target}): use a port of appliance/ports/, or move shared code below both")
            elif module.name not in ROOT_MODULES:
                problems.append(f"{_where(module, line, root)}: {module.name} is below the components but imports "
                                f"{target}")
    return problems


def no_cycles(modules: Mapping[str, Module], root: Path) -> list[str]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for module in modules.values():
        for target, _line in module.imports:
            if target in modules and target != module.name:
                graph[module.name].add(target)
    cycles: list[list[str]] = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            cycles.append(_one_cycle(graph, component))
    return [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles]


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for successor in edges:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    result.append(component)
    return result


def _one_cycle(graph: Mapping[str, set[str]], members: set[str]) -> list[str]:
    start = min(members)
    path, seen = [start], {start}
    while True:
        following = min(n for n in graph[path[-1]] if n in members)
        if following in seen:
            return [*path[path.index(following):], following]
        path.append(following)
        seen.add(following)


def services_are_declared(
    modules: Mapping[str, Module],
    root: Path,
    declared: Mapping[str, set[str]],
    keys: Mapping[str, set[str]],
) -> list[str]:
    """`declared`: component package -> the service key names its spec declares; `keys`: module -> the names of
    the service keys it defines (e.g. {"appliance.ports": {"FLIGHT", ...}})."""
    problems = []
    for module in modules.values():
        own = _package_of(module.name, list(declared))
        if own is None:
            continue
        used = [(n, line) for m, n, line in module.names_from if n in keys.get(m, set())]
        used += [(n, line) for m, n, line in module.attributes if n in keys.get(m, set())]
        for name, line in used:
            if name not in declared[own]:
                problems.append(f"{_where(module, line, root)}: {own} uses the service {name} that its spec does "
                                f"not declare (provides, requires or uses)")
    return problems


def check(
    root: Path, packages: Sequence[str], declared: Mapping[str, set[str]], keys: Mapping[str, set[str]]
) -> list[str]:
    modules = scan(root)
    return [
        *hal_is_below(modules, root),
        *simulator_only_in_the_launcher(modules, root),
        *components_stay_apart(modules, root, packages),
        *no_cycles(modules, root),
        *services_are_declared(modules, root, declared, keys),
    ]


def names(values: Iterable[object]) -> set[str]:
    return {str(getattr(v, "name", v)) for v in values}
