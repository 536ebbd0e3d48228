"""Issue 18 items 4, 5 and 8 (and issue 12's unknown paths): bad input gets a 4xx with a JSON reason, never a
5xx or a bare text page; the answers name no software; the daemon sets its own umask."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port, subprocess_env
from tests.hostile.conftest import ORDER, maintenance_listener, portal, sources
from tests.ops_support import base_config, toml_dump, write_token
from tests.portal.conftest import PortalRig, rig

__all__ = ["rig"]  # the portal tests' fixture

DEEP = b"[" * 2000 + b"]" * 2000


async def raw(rig_base: str, request: bytes, read_timeout: float = 3.0) -> tuple[int, dict[str, str], bytes]:
    """One raw request on its own connection: status, headers (lower-case names), body."""
    host, port = rig_base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    data = b""
    try:
        async with asyncio.timeout(read_timeout):
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and b"content-length:" in head.lower():
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
    except TimeoutError:
        pass
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def test_json_nested_2000_deep_is_a_400_on_orders_and_on_outputs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with portal(tmp_path) as rig, maintenance_listener(tmp_path) as m, aiohttp.ClientSession() as s:
        for _ in range(5):
            async with s.post(rig.base + "/api/v1/orders", data=DEEP,
                              headers={"Content-Type": "application/json"}) as r:
                assert r.status == 400 and "deeper" in (await r.json())["error"]
        async with s.post(rig.base + "/api/v1/orders", json=ORDER) as r:  # no rate token was spent on those
            assert r.status == 201
        async with s.put(m.url + "/api/v1/outputs/CABIN_READY", data=DEEP, headers=m.auth()) as r:
            assert r.status == 400 and r.content_type == "application/json"
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_broken_multipart_accept_is_a_400(rig: PortalRig) -> None:
    body = b"--XYZ\r\nContent-Disposition: form-data; name=\"lang\"\r\n\r\nen\r\n--XYZ"  # never closed properly
    status, headers, payload = await raw(rig.base, (
        f"POST /captive-portal/accept HTTP/1.1\r\nHost: {rig.base[7:]}\r\n"
        f"Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    assert status == 400 and headers["content-type"].startswith("application/json"), payload
    garbage = b"\xff\xfe garbage"
    status, headers, payload = await raw(rig.base, (
        f"POST /captive-portal/accept HTTP/1.1\r\nHost: {rig.base[7:]}\r\n"
        f"Content-Type: multipart/form-data\r\nContent-Length: {len(garbage)}\r\n\r\n").encode() + garbage)
    assert status == 400 and json.loads(payload)["error"]


@pytest.mark.parametrize("last_event_id", ["{epoch}-\u0663", "{epoch}-\u00b2", "{epoch}-1\u0663", "{epoch}- 3"])
async def test_a_last_event_id_of_unicode_digits_starts_afresh(rig: PortalRig, last_event_id: str) -> None:
    broadcaster = rig.services.broadcaster
    header = last_event_id.replace("{epoch}", broadcaster._epoch)
    async with aiohttp.ClientSession() as s, s.get(rig.base + "/api/v1/flight/stream",
                                                   headers={"Last-Event-ID": header}) as r:
        assert r.status == 200
        assert await asyncio.wait_for(r.content.readline(), 5) == b"retry: 2000\n"
        assert (await asyncio.wait_for(r.content.readline(), 5)) == b"\n"
        assert (await asyncio.wait_for(r.content.readline(), 5)).startswith(b"id: ")  # the latest, at once


async def test_http_2_request_lines_are_refused_in_json(rig: PortalRig) -> None:
    for path in ("/api/v1/flight/stream", "/api/v1/flight", "/"):
        status, headers, body = await raw(rig.base, f"GET {path} HTTP/2.0\r\nHost: x\r\n\r\n".encode())
        assert status in (400, 505) and headers["content-type"].startswith("application/json"), (path, status)
        assert b"HTTP/2.0" not in body


async def test_head_on_the_stream_has_no_body(rig: PortalRig) -> None:
    host = rig.base[7:]
    request = (f"HEAD /api/v1/flight/stream HTTP/1.1\r\nHost: {host}\r\n\r\n"
               f"GET /api/v1/flight HTTP/1.1\r\nHost: {host}\r\n\r\n").encode()
    reader, writer = await asyncio.open_connection(*host.split(":"))
    writer.write(request)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    # the very next bytes are the second answer's: the keep-alive connection is intact
    second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert second.startswith(b"HTTP/1.1 200") and b"application/json" in second
    writer.close()


@pytest.mark.parametrize("email", ["a@b.co\n", "a@b.co\r\n", "a@b.co\nBcc: x@y.z", "\na@b.co"])
async def test_an_email_with_a_newline_is_refused(rig: PortalRig, email: str) -> None:
    async with aiohttp.ClientSession() as s, s.post(rig.base + "/api/v1/orders", json={**ORDER, "email": email}) as r:
        assert r.status == 422 and (await r.json())["field"] == "email"


async def test_parser_errors_are_json_echo_nothing_and_log_once_at_info(
        rig: PortalRig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for i in range(20):
        status, headers, body = await raw(rig.base, f"GET /<script>{i} HTTP/1.1\r\nHo st: \x01\r\n\r\n".encode())
        assert status == 400 and headers["content-type"].startswith("application/json")
        assert b"script" not in body and b"Ho st" not in body
    records = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith(("aiohttp", "appliance"))]
    assert not [r for r in records if r.levelno >= logging.WARNING], [r.getMessage() for r in records]
    assert len([r for r in records if "malformed" in r.getMessage()]) == 1
    assert not [r for r in records if "127.0.0.1" in r.getMessage()]


async def test_options_star_and_connect_answer_json(rig: PortalRig) -> None:
    for line in ("OPTIONS * HTTP/1.1", "CONNECT example.com:443 HTTP/1.1", "BREW /pot HTTP/1.1"):
        status, headers, body = await raw(rig.base, f"{line}\r\nHost: {rig.base[7:]}\r\n\r\n".encode())
        assert 400 <= status < 500 and headers["content-type"].startswith("application/json"), (line, status, body)
        assert json.loads(body)["error"]


async def test_416_and_412_carry_json_and_other_range_units_are_ignored(rig: PortalRig) -> None:
    async with aiohttp.ClientSession() as s:
        url = rig.base + "/content/readings/skyways.pdf"
        async with s.get(url) as r:
            full = await r.read()
        async with s.get(url, headers={"Range": f"bytes={len(full) + 10}-"}) as r:
            assert r.status == 416 and r.content_type == "application/json" and (await r.json())["error"]
            assert r.headers["Content-Range"] == f"bytes */{len(full)}"
        async with s.get(url, headers={"If-Match": '"nope"'}) as r:
            assert r.status == 412 and r.content_type == "application/json" and (await r.json())["error"]
        async with s.get(url, headers={"Range": "chars=0-1"}) as r:
            assert r.status == 200 and await r.read() == full
        async with s.head(url, headers={"Range": "chars=0-1"}) as r:
            assert r.status == 200 and int(r.headers["Content-Length"]) == len(full)
        async with s.get(url, headers={"Range": "bytes=0-1"}) as r:
            assert r.status == 206 and await r.read() == full[:2]


async def test_no_server_header_names_the_software_on_either_listener(tmp_path: Path) -> None:
    async with portal(tmp_path) as rig, maintenance_listener(tmp_path) as m, aiohttp.ClientSession() as s:
        for url, headers in ((rig.base + "/api/v1/flight", {}), (rig.base + "/", {}), (rig.base + "/nowhere", {}),
                             (rig.base + "/static/app.js", {}), (m.url + "/livez", {}),
                             (m.url + "/health", m.auth()), (m.url + "/nowhere", m.auth()), (m.url + "/health", {})):
            async with s.get(url, headers=headers) as r:
                server = r.headers.get("Server", "")
                assert "python" not in server.lower() and "aiohttp" not in server.lower(), (url, server)
        for base in (rig.base, m.url):
            _, headers, _ = await raw(base, b"GET / HTTP/1.1\r\nHost: \x01\r\n\r\n")
            assert "aiohttp" not in headers.get("server", "").lower()


async def test_unknown_paths_answer_a_page_to_browsers_and_json_to_the_api(rig: PortalRig) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with aiohttp.ClientSession() as s:
        async with s.get(rig.base + "/no/such/page", headers=browser) as r:
            assert r.status == 404 and r.content_type == "text/html" and 'href="/"' in await r.text()
        async with s.get(rig.base + "/api/v1/nothing", headers=browser) as r:
            assert r.status == 404 and r.content_type == "application/json"
        async with s.get(rig.base + "/no/such/page") as r:
            assert r.status == 404 and r.content_type == "application/json"


async def test_a_global_order_cap_holds_across_many_addresses(tmp_path: Path) -> None:
    """40 addresses, 3 orders each (each within its own limit): the cabin-wide burst (10 here) is all that is
    stored at once."""
    async with portal(tmp_path, orders_per_minute_total=60, orders_burst_total=10) as rig:
        statuses: list[int] = []
        for source in sources(40, net=7):
            connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
            async with aiohttp.ClientSession(connector=connector) as s:
                for _ in range(3):
                    async with s.post(rig.base + "/api/v1/orders", json=ORDER) as r:
                        statuses.append(r.status)
        assert 10 <= statuses.count(201) <= 12 and statuses.count(429) == len(statuses) - statuses.count(201)


def test_the_daemon_sets_its_own_umask(tmp_path: Path) -> None:
    """Started with umask 0 (no unit to set one): the journal and state files are not readable by others."""
    write_token(tmp_path / "maintenance.token")
    port = free_port()
    config = tmp_path / "appliance.toml"
    config.write_text(toml_dump(base_config(tmp_path, port, portal={"listen": f"127.0.0.1:{free_port()}"})))
    process = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(config)],
                               env=subprocess_env(), stderr=subprocess.DEVNULL, umask=0)
    try:
        deadline = time.monotonic() + 30
        state = tmp_path / "state"
        while time.monotonic() < deadline and not any(p.is_file() for p in state.rglob("*")):
            time.sleep(0.1)
        time.sleep(1.0)
        files = [p for p in state.rglob("*")]
        assert files
        for path in files:
            assert path.stat().st_mode & 0o007 == 0, (path, oct(path.stat().st_mode))
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

