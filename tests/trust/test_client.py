"""The aircraft side refreshing from a real aiohttp static server on loopback: first refresh from the pinned
root, verification of targets, restart from the committed metadata, root rotation across several versions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tuf.api.metadata import Metadata, Root

from appliance.trust.refusal import Refusal
from tests.trust.support import T_NOW, Ground, aircraft, bundle, serve


async def test_refresh_then_verify_and_download(ground: Ground, tmp_path: Path) -> None:
    src = bundle(tmp_path / "day1", {"a.txt": b"hello", "v/b.ts": b"B" * 70000})
    (tmp_path / "schedule.json").write_text(json.dumps({"legs": []}))
    ground.publish(src, prefix="content")
    ground.publish(tmp_path / "schedule.json")
    async with serve(ground.repo) as server, aircraft(tmp_path / "state" / "trust", ground.pinned_root(),
                                                      server.url) as plane:
        outcome = await plane.refresh()
        assert outcome.ok, outcome
        assert outcome.versions == {"root": 1, "timestamp": 3, "snapshot": 3, "targets": 3}
        assert outcome.bytes > 0 and outcome.cpu_seconds > 0
        # consistent snapshots: only timestamp.json is fetched unversioned
        assert "metadata/timestamp.json" in server.requests and "metadata/3.snapshot.json" in server.requests
        assert "metadata/3.targets.json" in server.requests and "metadata/snapshot.json" not in server.requests
        trusted = plane.trusted
        assert trusted.verify_file("content/day1/a.txt", src / "a.txt") is None
        assert trusted.verify_bytes("content/day1/v/b.ts", b"B" * 70000) is None
        assert trusted.verify_bytes("content/day1/v/b.ts", b"B" * 69999 + b"C") is Refusal.LENGTH_OR_HASH
        assert trusted.verify_bytes("content/day1/v/b.ts", b"B" * 70001) is Refusal.LENGTH_OR_HASH
        assert trusted.verify_bytes("content/day1/nope", b"") is Refusal.UNKNOWN_TARGET
        dest = tmp_path / "schedule-in.json"
        assert await asyncio.to_thread(trusted.download, "schedule.json", dest) is None
        assert json.loads(dest.read_text()) == {"legs": []}
        # nothing changed on the ground: the next refresh fetches the timestamp only and stays
        server.requests.clear()
        again = await plane.refresh()
        assert again.ok and again.versions == outcome.versions
        assert server.requests == ["metadata/2.root.json", "metadata/timestamp.json"]  # 404 ends the root walk
    # a restart: the committed metadata is verified again offline from the pinned root
    async with serve(ground.repo) as server, aircraft(tmp_path / "state" / "trust", ground.pinned_root(),
                                                      server.url) as plane:
        view = plane.trusted.view()
        assert view is not None and view.versions() == outcome.versions
        assert plane.trusted.verify_file("content/day1/a.txt", src / "a.txt") is None


async def test_root_rotation_across_several_versions(ground: Ground, tmp_path: Path) -> None:
    async with serve(ground.repo) as server:
        async with aircraft(tmp_path / "early", ground.pinned_root(), server.url) as early:
            assert (await early.refresh()).ok
            for role in ("root", "timestamp", "root", "targets", "snapshot", "root"):
                ground.rotate(role)
            outcome = await early.refresh()
            assert outcome.ok, outcome
            assert outcome.versions["root"] == 7
        # a new aircraft shipped with root v1 walks every rotation in order
        async with aircraft(tmp_path / "late", ground.pinned_root(), server.url) as late:
            outcome = await late.refresh()
            assert outcome.ok and outcome.versions["root"] == 7
            assert [f"metadata/{v}.root.json" for v in range(2, 9)] == [
                r for r in server.requests if r.endswith(".root.json")][-7:]


async def test_root_signed_without_the_old_threshold_is_refused(ground: Ground, tmp_path: Path) -> None:
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        assert (await plane.refresh()).ok
        ground.rotate("root")
        # an attacker's v2 root: the rotated one, but re-signed by the new keys only (old threshold missing)
        forged = Metadata[Root].from_file(str(ground.metadata("2.root.json")))
        old_ids = set(Metadata[Root].from_file(str(ground.metadata("1.root.json"))).signed.roles["root"].keyids)
        for keyid in old_ids:
            forged.signatures.pop(keyid, None)
        good = ground.metadata("2.root.json").read_bytes()
        ground.metadata("2.root.json").write_bytes(forged.to_bytes())
        outcome = await plane.refresh()
        assert not outcome.ok and outcome.refusal is Refusal.SIGNATURE
        assert outcome.versions["root"] == 1
        ground.metadata("2.root.json").write_bytes(good)
        assert (await plane.refresh()).versions["root"] == 2


async def test_unreachable_ground_is_a_link_failure_not_a_refusal(ground: Ground, tmp_path: Path) -> None:
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        assert (await plane.refresh()).ok
        ground.metadata("timestamp.json").unlink()
        outcome = await plane.refresh(T_NOW + 60)
        assert not outcome.ok and outcome.refusal is None and outcome.link_error
        assert outcome.versions["timestamp"] == 1
