"""The window's work for releases against a real ground: a TUF repository made by the ground tools (the release
published with `appliance trust publish --prefix releases`), served by aiohttp on loopback with Range and a
paced link; the aircraft's real TrustedMetadata refreshed through the LoopFetcher; the release fetched,
verified and installed offline into a venv by the real code."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from appliance.fs import formats
from appliance.update.config import UpdateConfig
from appliance.update.layout import COMPLETE, Layout
from appliance.update.manifest import MANIFEST, Release, Wheel
from appliance.update.window import WindowRunner
from tests.trust.support import T_NOW, Ground, aircraft
from tests.update.ground import serve
from tests.update.support import probe_release

LINK_RATE = 2_000_000 / 8  # 2 Mbit/s


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return probe_release(tmp_path_factory.mktemp("built"), "1.1.0")


def first_release(root: Path, state: Path, version: str = "1.0.0") -> Layout:
    """A committed release (its manifest and marker only: the window never runs it)."""
    layout = Layout(root, state)
    where = layout.releases / version
    where.mkdir(parents=True)
    wheel = Wheel("x-1.0-py3-none-any.whl", 0, "0" * 64)
    release = Release(version, "3.11", f"cabinprobe=={version}", formats.declared(), (wheel,))
    (where / MANIFEST).write_bytes(release.to_json())
    (where / COMPLETE).write_text(version + "\n")
    layout.mark_installed()
    return layout


def setup(tmp: Path, built: Path, first: str = "1.0.0") -> tuple[Ground, Layout, UpdateConfig]:
    ground = Ground(tmp / "keys", tmp / "repo")
    ground.init()
    ground.publish(built, prefix="releases")
    config = UpdateConfig(root=str(tmp / "opt"), python=sys.executable)
    return ground, first_release(tmp / "opt", tmp / "state", first), config


async def window(ground: Ground, config: UpdateConfig, layout: Layout, rate: float, *, budget: object = None,
                 server_hook: object = None) -> tuple[dict[str, object], int]:
    async with serve(ground.repo, rate) as server:
        if callable(server_hook):
            server_hook(server)
        async with aircraft(ground.repo.parent / "aircraft-md", ground.pinned_root(), server.url) as plane:
            outcome = await plane.refresh(T_NOW)
            assert outcome.ok, outcome
            async with aiohttp.ClientSession() as session:
                result = await WindowRunner(config, layout).run(session, plane.trusted, budget)  # type: ignore[arg-type]
        return result, server.body_bytes


def test_a_signed_release_is_fetched_over_2_mbit_and_installed(tmp_path: Path, built: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    ground, layout, config = setup(tmp_path, built)
    size = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
    started = time.monotonic()
    result, sent = asyncio.run(window(ground, config, layout, LINK_RATE))
    seconds = time.monotonic() - started
    assert result["status"] == "installed", result
    assert layout.pending() == "1.1.0" and layout.link("current") == "1.0.0"  # nothing switched yet
    assert (layout.releases / "1.1.0" / "bin" / "appliance").is_file()
    assert result["bytes_fetched"] == size and sent == size
    fetch_seconds = float(result["seconds"])  # type: ignore[arg-type]
    with capsys.disabled():
        print(f"\nupdate over 2 Mbit/s: {size} bytes fetched and installed in {seconds:.1f} s "
              f"({size / LINK_RATE:.1f} s of link time at 2 Mbit/s)")
    assert fetch_seconds >= size / LINK_RATE * 0.9
    # the next window has nothing to do
    again, sent = asyncio.run(window(ground, config, layout, 0))
    assert again["status"] == "up_to_date" and sent == 0
    # a window cancelled between the install and its record: the next one marks it pending, fetching nothing
    (layout.state / "pending.json").unlink()
    again, sent = asyncio.run(window(ground, config, layout, 0))
    assert again["status"] == "installed" and layout.pending() == "1.1.0" and sent == 0


def test_budgeted_windows_resume_where_the_last_stopped(tmp_path: Path, built: Path) -> None:
    ground, layout, config = setup(tmp_path, built)
    size = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
    allowance = 600_000
    statuses, total_sent = [], 0
    for _ in range(10):
        spent = [0]

        def budget(n: int, spent: list[int] = spent) -> bool:
            if spent[0] + n > allowance:
                return False
            spent[0] += n
            return True

        result, sent = asyncio.run(window(ground, config, layout, 0, budget=budget))
        statuses.append(result["status"])
        total_sent += sent
        assert sent <= allowance
        if result["status"] == "installed":
            break
    assert statuses[-1] == "installed" and statuses[0] == "budget" and len(statuses) >= 4, statuses
    assert total_sent == size  # nothing fetched twice


def test_a_wheel_that_is_not_the_signed_one_is_refused_and_not_asked_for_again(tmp_path: Path, built: Path) -> None:
    ground, layout, config = setup(tmp_path, built)

    async def tampered(request: web.Request) -> web.StreamResponse:
        size = int(request.headers["Range"].split("-")[1]) - int(request.headers["Range"].split("=")[1].split("-")[0])
        return web.Response(status=206, body=b"\x00" * (size + 1))

    def hook(server: object) -> None:
        server.overrides["wheels/.*cabinprobe"] = tampered  # type: ignore[attr-defined]

    result, _ = asyncio.run(window(ground, config, layout, 0, server_hook=hook))
    assert result["status"] == "refused", result
    assert "1.1.0" in layout.refused() and not (layout.releases / "1.1.0").exists()
    again, sent = asyncio.run(window(ground, config, layout, 0))
    assert again["status"] == "up_to_date" and sent == 0
    shutil.rmtree(tmp_path / "opt" / "downloads", ignore_errors=True)
