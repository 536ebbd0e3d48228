"""/api/v1/openapi.json: in step with the router, and schemathesis against a real server finds no 5xx."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from appliance.portal.app import make_app
from appliance.portal.openapi import document
from tests.portal.conftest import PortalRig, start_rig

STREAMING = {"/api/v1/flight/stream"}


def test_document_lists_exactly_the_routes(tmp_path: Path) -> None:
    from appliance.metrics import Metrics
    from appliance.portal.component import make_services
    from appliance.portal.config import PortalConfig
    from appliance.timebase import SystemClock

    app = make_app(make_services(PortalConfig(), SystemClock(), Metrics()))
    routes = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = (info.get("path") or info.get("formatter") or "").replace("{path:.+}", "{path}")
        for route in resource:
            if route.method not in ("HEAD", "*"):  # "*": the last route, JSON 404/405 for everything else
                routes.add((route.method.lower(), path))
    documented = {(method, path) for path, ops in document()["paths"].items() for method in ops}
    assert routes == documented


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The portal in its own thread and loop, so schemathesis's blocking client can call it."""
    ready = threading.Event()
    holder: dict[str, object] = {}

    def run() -> None:
        async def main() -> None:
            rig: PortalRig = await start_rig(tmp_path_factory.mktemp("schema"), orders_burst=1000,
                                             orders_per_minute=100000)
            stop = asyncio.Event()
            holder.update(base=rig.base, stop=stop, loop=asyncio.get_running_loop())
            ready.set()
            await stop.wait()
            await rig.stop()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    yield str(holder["base"])
    loop = holder["loop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    stop = holder["stop"]
    assert isinstance(stop, asyncio.Event)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


OPERATIONS = [
    (path, method)
    for path, ops in document()["paths"].items()
    if path not in STREAMING
    for method in ops
]


@pytest.mark.parametrize("path,method", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_schemathesis_no_server_errors(live: str, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_dict(document())
    operation = schema[path][method.upper()]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=live, checks=checks, timeout=10)

    check()
