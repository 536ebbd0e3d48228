"""The maintenance listener on a real loopback socket: token, health, metrics (promtool), status, admin routes,
JSON errors; and `appliance status` against it as a subprocess."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from appliance import discretes, groundlink
from appliance.appconfig import parse_config
from appliance.avionics.metrics import AvionicsMetrics
from appliance.component import Check
from appliance.config import ConfigError
from appliance.maintenance.api import allowed
from appliance.maintenance.component import MaintenanceComponent
from appliance.maintenance.config import MaintenanceConfig
from appliance.statusline import status_line
from tests.conftest import free_port, python_module, subprocess_env
from tests.maintenance_support import FakeDiscretes, Part, Scene, scene_for
from tests.ops_support import base_config, write_token


class Trigger:
    def __init__(self) -> None:
        self.requests = 0

    def request_sync(self) -> dict[str, Any]:
        self.requests += 1
        return {"window": "closed", "reason": "in the air"}

    def snapshot(self) -> dict[str, Any]:
        return {"window": "closed"}


@dataclass
class Listener:
    ctx: Scene
    url: str
    token: str
    component: MaintenanceComponent
    session: aiohttp.ClientSession

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


@pytest.fixture
async def listener(tmp_path: Path) -> AsyncIterator[Listener]:
    token = write_token(tmp_path / "maintenance.token")
    port = free_port()
    (tmp_path / "state").mkdir()
    # wrong tokens on purpose, more than the default limit of failed authentications allows
    ctx = scene_for(tmp_path, port, debug_hooks=True, auth_failures_burst=100)
    ctx.install(Part("avionics", True, Check.passing("fresh", words=12)))
    component = ctx.listener()
    await component.start()
    ctx.lifecycle.ready = True
    async with aiohttp.ClientSession() as session:
        yield Listener(ctx, f"http://127.0.0.1:{port}", token, component, session)
    await component.stop()


async def test_livez_is_open_everything_else_needs_the_token(listener: Listener) -> None:
    s, url = listener.session, listener.url
    async with s.get(f"{url}/livez") as r:
        assert r.status == 200 and (await r.json()) == {"status": "alive"}
    for path in ("/readyz", "/health", "/metrics", "/api/v1/status", "/nowhere"):
        async with s.get(f"{url}{path}") as r:
            assert r.status == 401, path
            assert "error" in await r.json() and r.headers["WWW-Authenticate"].startswith("Bearer")
        async with s.get(f"{url}{path}", headers=listener.auth("test-token-0123456780")) as r:
            assert r.status == 401, path
        async with s.get(f"{url}{path}", headers={"Authorization": f"Basic {listener.token}"}) as r:
            assert r.status == 401, path
    async with s.get(f"{url}/readyz", headers=listener.auth()) as r:
        assert r.status == 200
    listener.ctx.lifecycle.ready = False
    async with s.get(f"{url}/readyz", headers=listener.auth()) as r:
        assert r.status == 503 and (await r.json())["ready"] is False


async def test_health_is_health_json_with_one_check_per_component(listener: Listener) -> None:
    s, url, ctx = listener.session, listener.url, listener.ctx
    async with s.get(f"{url}/health", headers=listener.auth()) as r:
        assert r.status == 200 and r.content_type == "application/health+json"
        body = await r.json(content_type=None)
    assert body["status"] == "pass"
    assert set(body["checks"]) == {"avionics:health", "maintenance:health", "alarms:active", "daemon:loopLag",
                                   "daemon:ready"}
    avionics = body["checks"]["avionics:health"][0]
    assert avionics["status"] == "pass" and avionics["output"] == "fresh" and avionics["details"] == {"words": 12}
    ctx.install(Part("modem", False, Check.failing("no SIM")), index=0)
    async with s.get(f"{url}/health", headers=listener.auth()) as r:
        body = await r.json(content_type=None)
        assert r.status == 200 and body["status"] == "warn"  # a non-critical fail: degraded, still serving
        assert body["checks"]["modem:health"][0]["status"] == "fail"
    ctx.install(Part("storage", True, Check.failing("journal unwritable")), index=0)
    async with s.get(f"{url}/health", headers=listener.auth()) as r:
        assert r.status == 503 and (await r.json(content_type=None))["status"] == "fail"


async def test_metrics_pass_promtool_and_carry_process_and_system_figures(listener: Listener) -> None:
    listener.ctx.metrics.of(AvionicsMetrics).avionics_words.labels(channel="0").inc(5)
    listener.ctx.alarms.raise_alarm("over_temperature", "71 C") if listener.ctx.alarms else None
    async with listener.session.get(f"{listener.url}/metrics", headers=listener.auth()) as r:
        assert r.status == 200 and r.content_type == "text/plain"
        text = await r.text()
    for name in (
        "appliance_build_info",
        'appliance_avionics_words_total{channel="0"} 5.0',
        'appliance_alarm_active{name="over_temperature"} 1.0',
        "appliance_process_resident_memory_bytes",
        'appliance_process_cpu_seconds_total{mode="user"}',
        'appliance_system_cpu_seconds_total{mode="idle"}',
        'appliance_system_memory_bytes{kind="available"}',
        'appliance_state_disk_bytes{kind="free"}',
        'appliance_component_health{component="avionics"} 0.0',
        "appliance_event_loop_lag_seconds",
    ):
        assert name in text, name
    check = await asyncio.to_thread(
        subprocess.run, ["promtool", "check", "metrics"], input=text.encode(), capture_output=True
    )
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


async def test_status_has_the_sections_of_the_components_built(listener: Listener) -> None:
    ctx = listener.ctx
    async with listener.session.get(f"{listener.url}/api/v1/status", headers=listener.auth()) as r:
        body = await r.json()
    assert "discretes" not in body and "modem" not in body and "outbox" not in body
    assert body["alarms"] == []
    assert [c["name"] for c in body["components"]] == ["avionics", "maintenance"]
    assert body["daemon"]["ready"] is True
    signals = FakeDiscretes()
    ctx.install(signals, discretes.COMPONENT)  # its spec's status reader names the section
    async with listener.session.get(f"{listener.url}/api/v1/status", headers=listener.auth()) as r:
        body = await r.json()
    assert body["discretes"]["WOW"] == {"direction": "input", "state": True}


async def test_an_active_alarm_warns_in_health_status_and_the_status_line(
    listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    s, url, ctx = listener.session, listener.url, listener.ctx
    assert ctx.alarms is not None
    caplog.set_level(logging.INFO, logger="appliance.alarms")
    ctx.alarms.report("over_temperature", "board_temperature", True, "board temperature 90 degC >= 85 degC")
    ctx.alarms.report("over_temperature", "OVERTEMPSIG", True, "OVERTEMPSIG")  # a second source: no second line
    async with s.get(f"{url}/health", headers=listener.auth()) as r:
        body = await r.json(content_type=None)
    assert r.status == 200 and body["status"] == "warn"
    [entry] = body["checks"]["alarms:active"]
    assert entry["componentId"] == "over_temperature" and entry["status"] == "warn"
    assert "90 degC" in entry["output"]
    async with s.get(f"{url}/api/v1/status", headers=listener.auth()) as r:
        status = await r.json()
    assert status["status"] == "warn"
    [alarm] = status["alarms"]
    assert alarm["active"] is True and alarm["latched"] is True and alarm["raised"].endswith("Z")
    line = status_line(ctx.assembly.checks(), ctx.lifecycle, alarms=ctx.alarms)
    assert "ALARM over_temperature: board temperature 90 degC" in line and "video" in line
    raised = [r.getMessage() for r in caplog.records if "raised" in r.getMessage()]
    assert len(raised) == 1 and "over_temperature" in raised[0]
    # the cause goes: health is back to pass by itself, the record stays until acknowledged
    ctx.alarms.report("over_temperature", "board_temperature", False)
    ctx.alarms.report("over_temperature", "OVERTEMPSIG", False)
    assert any("cleared" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    async with s.get(f"{url}/health", headers=listener.auth()) as r:
        body = await r.json(content_type=None)
    assert body["status"] == "pass" and body["checks"]["alarms:active"][0]["status"] == "pass"
    assert "not acknowledged" in body["checks"]["alarms:active"][0]["output"]
    assert "ALARM" not in status_line(ctx.assembly.checks(), ctx.lifecycle, alarms=ctx.alarms)
    async with s.post(f"{url}/api/v1/alarms/over_temperature/ack", headers=listener.auth()) as r:
        assert r.status == 200 and (await r.json())["active"] is False
    assert ctx.alarms.snapshot() == []


async def test_alarm_acknowledgement(listener: Listener) -> None:
    s, url, alarms = listener.session, listener.url, listener.ctx.alarms
    assert alarms is not None
    alarms.raise_alarm("over_temperature", "cabin server at 75 C")
    alarms.condition_cleared("over_temperature")
    async with s.post(f"{url}/api/v1/alarms/over_temperature/ack", headers=listener.auth()) as r:
        body = await r.json()
        assert r.status == 200 and body["alarm"]["acked"] is True and body["active"] is False
    async with s.post(f"{url}/api/v1/alarms/over_temperature/ack", headers=listener.auth()) as r:
        assert r.status == 404 and "over_temperature" in (await r.json())["error"]


async def test_outputs_are_the_discretes_route(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        port = free_port()
        token = write_token(tmp_path / "maintenance.token")
        (tmp_path / "state").mkdir()
        without = scene_for(tmp_path, port).listener()
        await without.start()
        try:
            async with session.put(f"http://127.0.0.1:{port}/api/v1/outputs/CABIN_READY", json={"value": True},
                                   headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 404 and "error" in await r.json()  # no discretes component, no such route
        finally:
            await without.stop()
        scene = scene_for(tmp_path, port)
        signals = FakeDiscretes()
        scene.install(signals, discretes.COMPONENT)
        component = scene.listener()
        await component.start()
        try:
            await _outputs(Listener(scene, f"http://127.0.0.1:{port}", token, component, session), signals)
        finally:
            await component.stop()


async def _outputs(listener: Listener, signals: FakeDiscretes) -> None:
    s, url = listener.session, listener.url
    async with s.put(f"{url}/api/v1/outputs/CABIN_READY", json={"value": True}, headers=listener.auth()) as r:
        assert r.status == 200 and await r.json() == {"name": "CABIN_READY", "value": True}
    assert signals.actions == [("CABIN_READY", True, "maintenance")]
    for body, status in (({"value": "yes"}, 400), ({"value": True, "x": 1}, 400), ([True], 400)):
        async with s.put(f"{url}/api/v1/outputs/CABIN_READY", json=body, headers=listener.auth()) as r:
            assert r.status == status and "error" in await r.json()
    async with s.put(f"{url}/api/v1/outputs/CABIN_READY", data=b"{nope", headers=listener.auth()) as r:
        assert r.status == 400 and "JSON" in (await r.json())["error"]
    async with s.put(f"{url}/api/v1/outputs/NOPE", json={"value": True}, headers=listener.auth()) as r:
        assert r.status == 404
    async with s.put(f"{url}/api/v1/outputs/WOW", json={"value": False}, headers=listener.auth()) as r:
        assert r.status == 409 and "input" in (await r.json())["error"]
    assert signals.state["WOW"] == ("input", True)


async def test_sync_now_is_the_ground_links_route(tmp_path: Path) -> None:
    port = free_port()
    token = write_token(tmp_path / "maintenance.token")
    (tmp_path / "state").mkdir()
    scene = scene_for(tmp_path, port)
    trigger = Trigger()
    scene.install(trigger, groundlink.COMPONENT)
    component = scene.listener()
    await component.start()
    try:
        async with aiohttp.ClientSession() as s, s.post(
            f"http://127.0.0.1:{port}/api/v1/groundlink/sync", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 202 and trigger.requests == 1
            assert await r.json() == {"requested": True, "window": "closed", "reason": "in the air"}
    finally:
        await component.stop()


async def test_unknown_routes_and_the_debug_hook_validation(listener: Listener) -> None:
    s, url = listener.session, listener.url
    async with s.post(f"{url}/api/v1/groundlink/sync", headers=listener.auth()) as r:
        assert r.status == 404  # no ground link component: no such route
    async with s.get(f"{url}/api/v1/nothing", headers=listener.auth()) as r:
        assert r.status == 404 and "error" in await r.json()
    async with s.delete(f"{url}/health", headers=listener.auth()) as r:
        assert r.status == 405 and "error" in await r.json()
    for seconds in ("", "abc", "0", "-1", "1000"):
        async with s.post(f"{url}/api/v1/debug/block-loop?seconds={seconds}", headers=listener.auth()) as r:
            assert r.status == 400, seconds
    async with s.post(f"{url}/api/v1/debug/block-loop?seconds=0.2") as r:
        assert r.status == 401


async def test_appliance_status_cli_exit_codes(listener: Listener, tmp_path: Path) -> None:
    token_file = tmp_path / "maintenance.token"

    async def status(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = python_module("appliance", "status", "--url", listener.url, "--token-file", str(token_file), *extra)
        return await asyncio.to_thread(subprocess.run, argv, env=subprocess_env(), capture_output=True, text=True)

    healthy = await status()
    assert healthy.returncode == 0, healthy.stderr
    assert "appliance 0.1.0: healthy (pass), ready" in healthy.stdout
    assert "[ok  ] avionics (critical): fresh" in healthy.stdout
    listener.ctx.install(Part("modem", False, Check.failing("no SIM")), index=0)
    degraded = await status("--json")
    assert degraded.returncode == 1
    document = json.loads(degraded.stdout)
    assert document["health"]["status"] == "warn" and document["status"]["components"][0]["name"] == "modem"
    assert document["outbox"] is None  # this listener has no storage: the route answers 503
    text = await status()
    assert "[FAIL] modem: no SIM" in text.stdout
    unreachable = await asyncio.to_thread(
        subprocess.run,
        python_module(
            "appliance",
            "status",
            "--url",
            f"http://127.0.0.1:{free_port()}",
            "--token-file",
            str(token_file),
        ),
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert unreachable.returncode == 2 and "unreachable" in unreachable.stderr
    token_file.write_text("wrong-token\n")
    refused = await status()
    assert refused.returncode == 2 and "refused the token" in refused.stderr


async def test_the_debug_hook_is_off_unless_configured(tmp_path: Path) -> None:
    """On the aircraft nobody can block the loop over the network, token or not."""
    token = write_token(tmp_path / "maintenance.token")
    port = free_port()
    (tmp_path / "state").mkdir()
    component = scene_for(tmp_path, port).listener()
    assert component.config.debug_hooks is False
    await component.start()
    try:
        async with aiohttp.ClientSession() as s, s.post(
            f"http://127.0.0.1:{port}/api/v1/debug/block-loop?seconds=1", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 404 and "error" in await r.json()
    finally:
        await component.stop()


def _own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), None when it has only loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: a route lookup only
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address


async def test_only_the_allowed_networks_reach_the_listener(tmp_path: Path) -> None:
    """The cabin Wi-Fi cannot even try tokens (or /livez) once the maintenance networks are configured; the box
    itself (loopback: `appliance status`) always can; the token is still needed from an allowed network."""
    own = _own_address()
    if own is None:
        pytest.skip("no address but loopback: the refusal is covered by test_allowed_addresses")
    token = write_token(tmp_path / "maintenance.token")
    auth = {"Authorization": f"Bearer {token}"}
    (tmp_path / "state").mkdir()
    for allow_from, from_own_address in ((["10.20.0.0/16", "fd00:20::/32"], 403), ([f"{own}/32"], 200)):
        port = free_port()
        component = scene_for(tmp_path, port, allow_from=allow_from, listen=f"0.0.0.0:{port}").listener()
        await component.start()
        try:
            async with aiohttp.ClientSession() as s:
                for path in ("/livez", "/health"):
                    async with s.get(f"http://{own}:{port}{path}", headers=auth) as r:  # from `own`: not loopback
                        assert r.status == from_own_address, (allow_from, path)
                        if r.status == 403:
                            assert "network" in (await r.json())["error"]
                    async with s.get(f"http://127.0.0.1:{port}{path}", headers=auth) as r:
                        assert r.status == 200, path
                async with s.get(f"http://{own}:{port}/health") as r:
                    assert r.status == (401 if from_own_address == 200 else 403)  # allowed, yet no token: no
        finally:
            await component.stop()


def test_allowed_addresses() -> None:
    networks = MaintenanceConfig(allow_from=["10.20.0.0/16", "fd00:20::/32"]).networks()
    assert allowed("10.20.3.4", networks) and allowed("::ffff:10.20.3.4", networks)
    assert allowed("fd00:20::7", networks) and allowed("fd00:20::7%eth0", networks)
    assert not allowed("172.19.0.9", networks) and not allowed("fd00:21::7", networks)
    assert allowed("", networks)  # a Unix socket: local only
    assert allowed("127.0.0.1", networks) and allowed("::1", networks)  # `appliance status` on the box itself
    assert not allowed(None, networks)  # no readable peer
    assert not allowed("::10.20.3.4", networks) and not allowed("64:ff9b::a14:304", networks)  # not IPv4-mapped
    assert not allowed("not-an-address", networks)
    assert allowed("172.19.0.9", [])  # nothing configured: every peer (the token still applies)


def test_a_mistyped_network_names_the_key(tmp_path: Path) -> None:
    document = base_config(tmp_path, free_port(), maintenance={"allow_from": ["10.20.0.0/33"]})
    with pytest.raises(ConfigError) as caught:
        parse_config(document, "aircraft.toml")
    assert "maintenance.allow_from" in str(caught.value) and "aircraft.toml" in str(caught.value)
