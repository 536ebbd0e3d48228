"""Every deferred hook of every registered spec names a module and function that exist.

`deferred("module:function")` imports only when called, so a typo or a moved builder would otherwise surface
only when the daemon (or a bench measuring what the daemon imports) first calls it.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from appliance.core.registry import PACKAGES, load_specs
from appliance.core.spec import Deferred


def _hooks(spec: Any) -> list[tuple[str, Any]]:
    hooks = [("build", spec.build), ("routes", spec.routes), ("cli", spec.cli)]
    hooks += [(f"status.{name}", reader) for name, reader in spec.status.items()]
    return [(name, hook) for name, hook in hooks if isinstance(hook, Deferred)]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_deferred_hook_resolves(package: str) -> None:
    (spec,) = load_specs([package])
    for name, hook in _hooks(spec):
        module = importlib.import_module(hook.module)
        assert callable(getattr(module, hook.function, None)), f"{package} {name}: {hook.module}:{hook.function}"


def test_every_builder_is_deferred_so_reading_the_specs_loads_no_component() -> None:
    eager = [spec.name for spec in load_specs() if not isinstance(spec.build, Deferred)]
    assert not eager, f"builders imported with the spec (use deferred('module:build')): {eager}"
