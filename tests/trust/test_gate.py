"""The gate the ground link will use: refusals counted in the metric, a health warn naming the reason, one
log line per episode, telemetry; a packed bundle's manifest and files checked against the signed targets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from appliance.component import Status
from appliance.content.manifest import parse_manifest
from appliance.content.pack import pack
from appliance.metrics import Metrics
from appliance.trust.gate import Entry, TrustGate
from appliance.trust.refusal import Refusal
from tests.trust.support import NOW, T_NOW, Ground, aircraft, bundle, serve


async def test_episode_metric_health_and_telemetry(ground: Ground, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        metrics = Metrics()
        gate = TrustGate(plane.trusted, metrics)
        assert gate.health().status is Status.WARN  # nothing trusted yet
        assert (await gate.refresh(T_NOW)).ok
        assert gate.health().status is Status.PASS
        raw = json.loads(ground.metadata("timestamp.json").read_bytes())
        raw["signed"]["version"] = 99

        async def forged(request: object) -> object:
            from aiohttp import web
            return web.Response(body=json.dumps(raw).encode())

        server.overrides["metadata/timestamp.json"] = forged  # type: ignore[assignment]
        caplog.set_level(logging.INFO, logger="appliance.trust")
        for _ in range(3):  # the same attack in three windows: one episode
            outcome = await gate.refresh(T_NOW)
            assert outcome.refusal is Refusal.SIGNATURE
        assert metrics.registry.get_sample_value("appliance_trust_refusals_total", {"reason": "signature"}) == 3
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "signature" in warnings[0].getMessage()
        check = gate.health()
        assert check.status is Status.WARN and "signature" in check.reason
        assert gate.telemetry() == {"versions": {"root": 1, "timestamp": 1, "snapshot": 1, "targets": 1},
                                    "refusing": "signature", "refusals": {"signature": 3}}
        # a link failure is no refusal and does not end the episode
        server.overrides.clear()
        ground.metadata("timestamp.json").rename(tmp_path / "ts")
        assert (await gate.refresh(T_NOW)).link_error
        assert gate.health().status is Status.WARN
        (tmp_path / "ts").rename(ground.metadata("timestamp.json"))
        ground.publish()
        assert (await gate.refresh(T_NOW)).ok
        assert gate.health().status is Status.PASS and gate.telemetry()["refusing"] is None


async def test_manifest_and_files_against_the_signed_targets(ground: Ground, tmp_path: Path) -> None:
    src = bundle(tmp_path / "src", {"video/a.ts": b"V" * 300_000, "news/today.html": b"<p>news</p>"})
    bundles = tmp_path / "bundles"
    pack(src, bundles / "day1", bundle_id="day1", now=NOW)
    ground.publish(bundles / "day1", prefix="content")
    manifest_bytes = (bundles / "day1" / "manifest.json").read_bytes()
    manifest = parse_manifest(manifest_bytes)
    entries = [Entry(e.path, e.size, e.sha256) for e in manifest.files]
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url) as plane:
        metrics = Metrics()
        gate = TrustGate(plane.trusted, metrics)
        assert (await gate.refresh(T_NOW)).ok
        assert gate.check_manifest("content/day1", manifest_bytes, entries) == []
        assert gate.check_file("content/day1/video/a.ts", bundles / "day1" / "video" / "a.ts") is None
        # a CDN serving another manifest (its own hashes, consistent with its own files): refused
        forged = manifest_bytes.replace(entries[0].sha256.encode(), b"0" * 64)
        evil = [Entry(entries[0].path, entries[0].size, "0" * 64), *entries[1:]]
        problems = gate.check_manifest("content/day1", forged, evil)
        assert problems == [("manifest.json", Refusal.LENGTH_OR_HASH), (entries[0].path, Refusal.LENGTH_OR_HASH)]
        assert gate.check_manifest("content/day1", manifest_bytes, [*entries, Entry("extra.bin", 1, "0" * 64)]) == [
            ("extra.bin", Refusal.UNKNOWN_TARGET)]
        staged = tmp_path / "staged.ts"
        staged.write_bytes(b"V" * 299_999 + b"W")
        assert gate.check_file("content/day1/video/a.ts", staged) is Refusal.LENGTH_OR_HASH
        assert metrics.registry.get_sample_value("appliance_trust_refusals_total", {"reason": "length_or_hash"}) == 2
        assert gate.health().status is Status.WARN
