"""The published repository and a packed bundle served by real nginx as plain static files: the aircraft
refreshes from it, verifies the bundle's files against the signed targets, and refuses a tampered file."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.content.pack import pack
from appliance.trust.refusal import Refusal
from tests.conftest import free_port
from tests.trust.support import NOW, Ground, aircraft, bundle

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx (make debs: nginx-light)")


def _world_readable(root: Path) -> None:
    """nginx's workers run unprivileged: what the repository holds must be readable by them."""
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(Path(dirpath, name), 0o644)


@pytest.fixture
def nginx(ground: Ground, tmp_path: Path) -> Iterator[str]:
    work = tmp_path / "nginx"
    work.mkdir()
    port = free_port()
    (work / "nginx.conf").write_text(
        f"daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{ access_log off; sendfile on; default_type application/octet-stream;\n"
        f"  client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work};\n"
        f"  uwsgi_temp_path {work}; scgi_temp_path {work};\n"
        f"  server {{ listen 127.0.0.1:{port}; location /tuf/ {{ alias {ground.repo}/; }} }} }}\n")
    subprocess.run(["chmod", "-R", "a+rX", str(tmp_path)], check=True)  # nginx workers run unprivileged
    # pytest's base temp directories are 0700: let the workers traverse them (search permission only)
    # (every level up to /tmp: under xdist there is one more, popen-gwN)
    for parent in tmp_path.parents:
        if parent == Path(tempfile.gettempdir()):
            break
        parent.chmod(parent.stat().st_mode | 0o111)
    process = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)])
    url = f"http://127.0.0.1:{port}/tuf"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"{url}/metadata/timestamp.json", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def test_refresh_and_verify_a_bundle_from_nginx(ground: Ground, nginx: str, tmp_path: Path) -> None:
    src = bundle(tmp_path / "src", {"video/a.ts": b"T" * 200_000, "guide/index.html": b"<h1>guide</h1>"})
    pack(src, tmp_path / "bundles" / "day1", bundle_id="day1", now=NOW)
    names = ground.publish(tmp_path / "bundles" / "day1", prefix="content")
    _world_readable(ground.repo)
    async with aircraft(tmp_path / "trust", ground.pinned_root(), nginx) as plane:
        outcome = await plane.refresh()
        assert outcome.ok, outcome
        for name in names:
            dest = tmp_path / "got" / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            assert await asyncio.to_thread(plane.trusted.download, name, dest) is None
            assert dest.read_bytes() == (tmp_path / "bundles" / name.removeprefix("content/")).read_bytes()
        # the bucket is tampered with behind nginx's back: refused, the verified copy kept
        info = plane.trusted.targetinfo("content/day1/video/a.ts")
        assert info is not None
        stored = ground.repo / "targets" / "content" / "day1" / "video" / f"{info.hashes['sha256']}.a.ts"
        stored.write_bytes(b"X" * 200_000)
        dest = tmp_path / "got" / "content" / "day1" / "video" / "a.ts"
        assert await asyncio.to_thread(plane.trusted.download, info.path, dest) is Refusal.LENGTH_OR_HASH
        assert dest.read_bytes() == b"T" * 200_000
