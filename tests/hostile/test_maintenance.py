"""Issue 18 item 2: the maintenance listener is not open to the cabin by default; guessing tokens is limited
and logged; weak or group-readable token files are refused at start."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import aiohttp
import pytest

from appliance import maintenance
from appliance.appconfig import parse_config
from appliance.config import ConfigError, read_toml
from appliance.core.testing import build_alone
from appliance.maintenance.auth import load_token
from appliance.simlaunch import ensure_token
from image.overlay import DEFAULT_CONFIG
from tests.hostile.conftest import maintenance_listener
from tests.ops_support import base_config, write_token


def test_a_listener_off_loopback_with_no_allow_from_refuses_to_start() -> None:
    for listen in ("0.0.0.0:9180", "10.20.0.5:9180", "[::]:9180"):
        document = base_config(Path("/tmp"), 1, maintenance={"listen": listen})
        with pytest.raises(ConfigError) as refused:
            parse_config(document, "appliance.toml")
        assert refused.value.key == "maintenance.allow_from" and "allow_any" in str(refused.value)
    for section in ({"listen": "0.0.0.0:9180", "allow_from": ["10.20.0.0/16"]},
                    {"listen": "0.0.0.0:9180", "allow_any": True}, {"listen": "127.0.0.1:9180"},
                    {"listen": "[::1]:9180"}):
        parse_config(base_config(Path("/tmp"), 1, maintenance=section), "appliance.toml")


def test_the_image_config_names_the_maintenance_network(tmp_path: Path) -> None:
    path = tmp_path / "appliance.toml"
    path.write_text(DEFAULT_CONFIG)
    config = parse_config(read_toml(path), str(path))
    assert config.maintenance.allow_from and not config.maintenance.allow_any


async def test_a_passed_socket_on_every_address_is_refused_without_allow_from(tmp_path: Path) -> None:
    """The config may say loopback while systemd's socket unit listens on every address: the bound address counts."""
    write_token(tmp_path / "maintenance.token")
    (tmp_path / "state").mkdir()
    import socket as socket_module

    from appliance import systemd
    sock = socket_module.socket()
    sock.bind(("0.0.0.0", 0))  # the kernel's free port: a port probed on 127.0.0.1 may be taken on 0.0.0.0
    port = sock.getsockname()[1]
    sock.listen()
    sock.setblocking(False)
    from appliance.core.context import Context
    from appliance.core.spec import ASSEMBLY, Assembly

    core = Context()
    core.services.provide(ASSEMBLY, Assembly(core.lifecycle), "test")
    component = build_alone(maintenance.COMPONENT, base_config(tmp_path, port)["maintenance"], ctx=core)
    inherited = systemd._take_inherited()
    inherited["maintenance"] = sock
    try:
        with pytest.raises(ConfigError) as refused:
            await component.start()
        assert refused.value.key == "maintenance.allow_from"
    finally:
        inherited.pop("maintenance", None)
        sock.close()


async def test_wrong_tokens_are_rate_limited_per_address_and_logged_without_the_token(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with maintenance_listener(tmp_path) as m, aiohttp.ClientSession() as s:
        guess = "guess-" + secrets.token_hex(8)
        statuses = []
        for _ in range(12):
            async with s.get(m.url + "/health", headers=m.auth(guess)) as r:
                statuses.append(r.status)
                assert r.content_type == "application/json"
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}, statuses
        async with s.get(m.url + "/health", headers=m.auth()) as r:
            assert r.status == 429  # even the right token waits: the address is refused before comparing
        assert int(r.headers["Retry-After"]) >= 1
        async with s.get(m.url + "/livez") as r:
            assert r.status == 200
    lines = [r.getMessage() for r in caplog.records if "failed authentication" in r.getMessage()]
    assert 1 <= len(lines) <= 2 and all("127.0.0.1" in line for line in lines), lines
    assert not any(guess in r.getMessage() for r in caplog.records)
    assert m.ctx.metrics.registry.get_sample_value("appliance_maintenance_auth_failures_total") == 5


@pytest.mark.parametrize(("mode", "token", "message"), [
    (0o640, secrets.token_urlsafe(24), "group or others"),
    (0o604, secrets.token_urlsafe(24), "world-readable"),
    (0o600, "x", "at least 128 bits"),
    (0o600, "test-token-0123456789", "at least 128 bits"),
    (0o600, "a" * 40, "at least 128 bits"),
    (0o600, secrets.token_hex(15), "at least 128 bits"),
], ids=["group-readable", "world-readable", "one-char", "21-chars", "repeated", "120-bits"])  # stable for xdist
def test_weak_or_shared_token_files_are_refused(tmp_path: Path, mode: int, token: str, message: str) -> None:
    path = tmp_path / "maintenance.token"
    path.write_text(token + "\n")
    path.chmod(mode)
    with pytest.raises(ConfigError) as refused:
        load_token(path)
    assert refused.value.key == "maintenance.token_file" and message in str(refused.value)
    assert token not in str(refused.value) or len(token) < 3


@pytest.mark.parametrize("token", [secrets.token_urlsafe(16), secrets.token_hex(16), secrets.token_urlsafe(32)],
                         ids=["urlsafe-16", "hex-16", "urlsafe-32"])  # random values, stable ids (xdist)
def test_tokens_of_128_bits_are_accepted(tmp_path: Path, token: str) -> None:
    path = tmp_path / "maintenance.token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    assert load_token(path) == token


def test_the_sim_launcher_writes_a_token_the_daemon_accepts(tmp_path: Path) -> None:
    path = tmp_path / "maintenance.token"
    token = ensure_token(path)
    assert load_token(path) == token
