"""The layering rules of ARCHITECTURE.md, checked on the real tree; and each rule broken once on purpose in a
small tree of its own, to see the check catch it."""

from __future__ import annotations

import importlib
import pkgutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

import appliance.core.spec as core_spec
from appliance import ports
from appliance.core.registry import PACKAGES, load_specs
from appliance.core.services import ServiceKey
from tests.architecture.layering import check

ROOT = Path(__file__).resolve().parents[2]


def service_keys(module: Any) -> dict[str, ServiceKey[Any]]:
    return {name: value for name, value in vars(module).items() if isinstance(value, ServiceKey)}


def real_rules() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    keys = {"appliance.ports": service_keys(ports), "appliance.core.spec": service_keys(core_spec)}
    by_key = {id(key): name for table in keys.values() for name, key in table.items()}
    declared = {package: {by_key[id(key)] for key in spec.declared()}
                for package, spec in zip(PACKAGES, load_specs(), strict=True)}
    return declared, {module: set(table) for module, table in keys.items()}


def test_the_tree_keeps_every_rule() -> None:
    declared, keys = real_rules()
    assert check(ROOT, PACKAGES, declared, keys) == []


def test_the_service_keys_are_defined_in_appliance_ports_alone() -> None:
    """The services rule knows a key by the module that names it (appliance.ports): a key defined in one of the
    package's topic modules (appliance.ports.storage, ...) could be imported from there without the rule seeing it."""
    topics = [importlib.import_module(m.name) for m in pkgutil.iter_modules(ports.__path__, "appliance.ports.")]
    assert topics, "appliance.ports has no topic modules"
    assert {topic.__name__: sorted(service_keys(topic)) for topic in topics if service_keys(topic)} == {}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    for top in ("hal", "appliance", "firmware_sim"):
        (root / top).mkdir(exist_ok=True)
        (root / top / "__init__.py").touch()
    return root


TINY = {
    "appliance/ports/__init__.py": "from appliance.core import ServiceKey\nfrom appliance.ports.avionics import View\n"
                                   "FLIGHT = ServiceKey('flight')\nMODEM = ServiceKey('modem')\n",
    "appliance/ports/avionics.py": "class View: ...\n",
    "appliance/core/__init__.py": "class ServiceKey:\n    def __init__(self, name): self.name = name\n",
    "appliance/alpha/__init__.py": "from appliance import ports\nPROVIDES = (ports.FLIGHT,)\n",
    "appliance/alpha/reader.py": "from appliance.ports import FLIGHT\nfrom appliance.ports.avionics import View\n",
    "appliance/beta/__init__.py": "",
    "appliance/beta/user.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from appliance import ports\n",
    "appliance/simlaunch.py": "def start():\n    import firmware_sim.station\n",
    "firmware_sim/station.py": "import hal.codec\n",
    "hal/codec.py": "import struct\n",
}
PACKAGES_TINY = ("appliance.alpha", "appliance.beta")
DECLARED_TINY = {"appliance.alpha": {"FLIGHT"}, "appliance.beta": set()}
KEYS_TINY = {"appliance.ports": {"FLIGHT", "MODEM"}}


def tiny_check(tmp_path: Path, **changes: str) -> list[str]:
    root = write(tmp_path, TINY | changes)
    return check(root, PACKAGES_TINY, DECLARED_TINY, KEYS_TINY)


def test_the_tiny_tree_is_clean(tmp_path: Path) -> None:
    assert tiny_check(tmp_path) == []


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("hal/codec.py", "from appliance.ports import FLIGHT\n", "hal/ imports appliance.ports"),
        ("hal/codec.py", "def f():\n    import firmware_sim.station\n", "hal/ imports firmware_sim.station"),
        ("appliance/beta/user.py", "import firmware_sim.station\n", "only appliance.simlaunch may start"),
        ("appliance/beta/user.py", "from appliance.alpha.reader import FLIGHT\n",
         "component appliance.beta imports component appliance.alpha"),
        ("appliance/beta/user.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from appliance.alpha import reader\n",
         "component appliance.beta imports component appliance.alpha"),
        ("appliance/core/__init__.py", "import appliance.alpha.reader\n",
         "appliance.core is below the components but imports appliance.alpha.reader"),
        ("appliance/ports/avionics.py", "import appliance.beta.user\nclass View: ...\n", "import cycle"),
        ("appliance/beta/user.py", "from appliance import ports\n\ndef f():\n    return ports.MODEM\n",
         "appliance.beta uses the service MODEM that its spec does not declare"),
        ("appliance/alpha/reader.py", "from appliance.ports import FLIGHT, MODEM\n",
         "appliance.alpha uses the service MODEM"),
    ],
    ids=["hal-imports-appliance", "hal-imports-sim", "sim-outside-launcher", "component-imports-component",
         "component-imports-component-type-checking", "core-imports-component", "cycle", "undeclared-attribute",
         "undeclared-name"],
)
def test_each_broken_rule_is_caught(tmp_path: Path, path: str, text: str, expected: str) -> None:
    problems = tiny_check(tmp_path, **{path: text})
    assert any(expected in problem for problem in problems), problems


def test_a_cycle_inside_a_package_is_named_with_its_modules(tmp_path: Path) -> None:
    problems = tiny_check(
        tmp_path,
        **{"appliance/alpha/one.py": "from appliance.alpha import two\n",
           "appliance/alpha/two.py": "def f():\n    from appliance.alpha import one\n"},
    )
    assert "import cycle: appliance.alpha.one -> appliance.alpha.two -> appliance.alpha.one" in problems
