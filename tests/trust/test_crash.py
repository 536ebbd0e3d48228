"""Crash safety of the trusted-metadata directory: SIGKILL storms during refresh, a failed fsync at commit,
and leftovers of a killed refresh never leave half-written or unverified metadata in use."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from aiohttp import web

from appliance.fs.fileops import FileOps
from appliance.trust.client import TrustedMetadata, _load_committed
from appliance.trust.fetcher import LoopFetcher
from appliance.trust.store import CURRENT, GenerationStore
from tests.conftest import REPO, subprocess_env
from tests.trust.support import T_NOW, Ground, aircraft, bundle, serve


def _committed_versions(metadata_dir: Path, pinned: bytes) -> dict[str, int] | None:
    current = GenerationStore(metadata_dir).current()
    if current is None:
        return None
    return _load_committed(current, pinned).versions()  # raises if anything in use is not fully verified


async def test_sigkill_storm_during_refresh(ground: Ground, tmp_path: Path) -> None:
    metadata_dir = tmp_path / "trust"
    pinned = ground.pinned_root().read_bytes()
    rng = random.Random(13)
    async with serve(ground.repo) as server:
        async def slow(request: web.Request) -> web.StreamResponse:  # metadata trickles: kills land mid-refresh
            body = (ground.repo / request.match_info["tail"]).read_bytes()
            response = web.StreamResponse(headers={"Content-Length": str(len(body))})
            await response.prepare(request)
            try:
                for i in range(0, len(body), 512):
                    await response.write(body[i:i + 512])
                    await asyncio.sleep(0.005)
            except (ConnectionError, RuntimeError):
                pass
            return response

        seen: list[dict[str, int]] = []
        for round_ in range(6):
            bundle(tmp_path / "b", {f"f{round_}.txt": os.urandom(3000)})
            ground.publish(tmp_path / "b", prefix="content")
            for name in [p.name for p in (ground.repo / "metadata").iterdir()]:
                server.overrides[f"metadata/{name}"] = slow
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.trust.killrefresh", str(metadata_dir), str(ground.pinned_root()),
                server.url, str(T_NOW), cwd=REPO, env=subprocess_env(), stdout=asyncio.subprocess.PIPE)
            assert child.stdout is not None
            assert (await asyncio.wait_for(child.stdout.readline(), 20)).strip() == b"started"
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            child.kill()
            await child.wait()
            versions = _committed_versions(metadata_dir, pinned)
            if versions is not None:
                assert not seen or all(versions[k] >= seen[-1][k] for k in versions)  # never goes back
                seen.append(versions)
        assert seen, "no refresh ever completed: the kills came too early to test anything"
        # after the storm: leftovers are cleaned and an honest refresh completes
        server.overrides.clear()
        async with aircraft(metadata_dir, ground.pinned_root(), server.url) as plane:
            outcome = await plane.refresh()
            assert outcome.ok, outcome
            assert outcome.versions["targets"] == 7
            assert sorted(os.listdir(metadata_dir)) == sorted([CURRENT, os.readlink(metadata_dir / CURRENT)])


class FailingFsync(FileOps):
    def fsync(self, fd: int) -> None:
        raise OSError(5, "Input/output error")


async def test_failed_fsync_at_commit_keeps_the_last_good(ground: Ground, tmp_path: Path) -> None:
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        assert (await plane.refresh()).ok
        before = plane.trusted.store.current()
        ground.publish()
        plane.trusted.store.ops = FailingFsync()
        outcome = await plane.refresh()
        assert not outcome.ok and outcome.disk_error and "Input/output" in outcome.disk_error
        assert plane.trusted.store.current() == before
        assert outcome.versions["timestamp"] == 1
        assert sorted(os.listdir(tmp_path / "trust")) == [CURRENT, before.name if before else ""]


async def test_leftovers_and_a_damaged_current(ground: Ground, tmp_path: Path) -> None:
    metadata_dir = tmp_path / "trust"
    async with serve(ground.repo) as server:
        async with aircraft(metadata_dir, ground.pinned_root(), server.url) as plane:
            assert (await plane.refresh()).ok
        # a killed refresh's half-written generation: never used, removed by the next refresh
        (metadata_dir / "gen-99").mkdir()
        (metadata_dir / "gen-99" / "timestamp.json").write_bytes(b'{"signed": {"_type": "timest')
        async with aircraft(metadata_dir, ground.pinned_root(), server.url) as plane:
            view = plane.trusted.view()
            assert view is not None and view.versions()["timestamp"] == 1
            ground.publish()
            assert (await plane.refresh()).ok
            assert not (metadata_dir / "gen-99").exists()
        # the disk lost the current generation's data (a cache lost in a power cut): not trusted, and the
        # next refresh starts again from the pinned root
        current = GenerationStore(metadata_dir).current()
        assert current is not None
        (current / "targets.json").write_bytes(b"")
        async with aircraft(metadata_dir, ground.pinned_root(), server.url) as plane:
            assert plane.trusted.view() is None
            outcome = await plane.refresh(T_NOW)
            assert outcome.ok and outcome.versions["timestamp"] == 2


def test_refresh_outside_a_thread_is_refused(tmp_path: Path, ground: Ground) -> None:
    async def on_the_loop() -> str | None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            fetcher = LoopFetcher(session, asyncio.get_running_loop())
            trusted = TrustedMetadata.from_files(tmp_path / "t", ground.pinned_root(), "http://127.0.0.1:9/tuf",
                                                 fetcher)
            return trusted.refresh(T_NOW).link_error  # called on the loop itself: must not deadlock

    error = asyncio.run(asyncio.wait_for(on_the_loop(), 10))
    assert error is not None and "DownloadError" in error
