"""The start order comes from the declared services: providers first, a missing provider or a cycle refused
with the names; a builder gets exactly what its spec declares."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from appliance.appconfig import parse_config
from appliance.core.graph import WiringError, start_order
from appliance.core.registry import load_specs
from appliance.core.services import ServiceKey
from appliance.core.spec import ComponentSpec, UndeclaredService
from appliance.core.testing import setup_for
from appliance.daemon import ROOT_SERVICES

A: ServiceKey[Any] = ServiceKey("a")
B: ServiceKey[Any] = ServiceKey("b")
MANY: ServiceKey[Any] = ServiceKey("many", many=True)


def spec(name: str, **declared: Any) -> ComponentSpec[Any]:
    return ComponentSpec(name, build=lambda setup: None, **declared)  # type: ignore[arg-type,return-value]


def test_providers_come_first_and_ties_keep_the_listed_order() -> None:
    specs = [spec("user", requires=(A,)), spec("other"), spec("maker", provides=(A,)), spec("late", uses=(B,))]
    assert [s.name for s in start_order(specs)] == ["other", "maker", "user", "late"]


def test_a_missing_provider_a_double_provider_and_a_cycle_are_named() -> None:
    with pytest.raises(WiringError, match="user requires 'a', which no component provides"):
        start_order([spec("user", requires=(A,))])
    with pytest.raises(WiringError, match="'a' is provided by more than one component: one, two"):
        start_order([spec("one", provides=(A,)), spec("two", provides=(A,))])
    start_order([spec("one", provides=(MANY,)), spec("two", provides=(MANY,))])  # a many key may have several
    with pytest.raises(WiringError, match="dependency cycle: x -> y -> x"):
        start_order([spec("x", provides=(A,), requires=(B,)), spec("y", provides=(B,), uses=(A,))])


def test_the_real_components_start_in_a_valid_order() -> None:
    order = [s.name for s in start_order(load_specs(), given=ROOT_SERVICES)]
    assert order.index("avionics") < order.index("storage")  # storage uses avionics time
    assert order.index("storage") < order.index("content") < order.index("portal")
    assert order.index("storage") < order.index("discretes") < order.index("modem")  # flush; power line
    assert order[-1] == "maintenance"


def test_a_builder_gets_only_what_its_spec_declares() -> None:
    setup = setup_for(spec("user", requires=(A,), provides=(B,)), services={A: "the a"})
    assert setup.require(A) == "the a"
    setup.provide(B, "the b")
    with pytest.raises(UndeclaredService, match="user uses 'many' without declaring it"):
        setup.use(MANY)
    with pytest.raises(UndeclaredService, match="user provides 'a' without declaring it"):
        setup.provide(A, "again")


def test_the_old_maintenance_keys_still_work_with_a_deprecation_line(caplog: pytest.LogCaptureFixture) -> None:
    from appliance.appconfig import load_config

    document = {"avionics": {"port": "/dev/null"}, "modem": {"port": "/dev/null"},
                "groundlink": {"url": "http://127.0.0.1:9"},
                "maintenance": {"listen": "127.0.0.1:9180", "stop_timeout": 7.5, "watchdog_max_lag": 0.5}}
    config = parse_config(document, "old.toml")
    assert config.daemon.stop_timeout == 7.5 and config.daemon.watchdog_max_lag == 0.5
    assert config.deprecations == [
        "old.toml: maintenance.stop_timeout is deprecated: write daemon.stop_timeout",
        "old.toml: maintenance.watchdog_max_lag is deprecated: write daemon.watchdog_max_lag",
    ]
    both = parse_config({**document, "daemon": {"stop_timeout": 3.0}}, "both.toml")
    assert both.daemon.stop_timeout == 3.0  # [daemon] wins over the old spelling
    with caplog.at_level(logging.WARNING):
        load_config(None, document)
    assert "maintenance.stop_timeout is deprecated" in caplog.text
