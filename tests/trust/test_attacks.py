"""Each attack of the TUF specification, served by a real aiohttp server: refused with its reason, the last
good metadata kept (same versions, same committed generation), and the next honest publish accepted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Timestamp

from appliance.metrics import Metrics
from appliance.trust.metrics import TrustMetrics
from appliance.trust.refusal import Refusal
from tests.trust.support import T_NOW, Aircraft, Ground, RepoServer, aircraft, bundle, serve


@pytest.fixture
async def setup(ground: Ground, tmp_path: Path) -> AsyncIterator[tuple[Ground, RepoServer, Aircraft, Path]]:
    src = bundle(tmp_path / "day1", {"a.txt": b"hello", "b.bin": b"\x00" * 4096})
    ground.publish(src, prefix="content")
    async with serve(ground.repo) as server, aircraft(tmp_path / "trust", ground.pinned_root(), server.url,
                                                      read_timeout=1.0, min_rate=2048.0, rate_grace=0.5) as plane:
        first = await plane.refresh()
        assert first.ok, first
        yield ground, server, plane, src


async def _refused(plane: Aircraft, reason: Refusal, reference: float = T_NOW) -> None:
    before = plane.trusted.view()
    current = plane.trusted.store.current()
    outcome = await plane.refresh(reference)
    assert not outcome.ok
    assert outcome.refusal is reason, outcome
    assert before is not None and outcome.versions == before.versions()
    assert plane.trusted.store.current() == current
    # the counted refusal (what the wiring does with the reason)
    metrics = Metrics()
    metrics.of(TrustMetrics).trust_refusals.labels(reason=outcome.refusal.value).inc()
    assert metrics.registry.get_sample_value("appliance_trust_refusals_total", {"reason": reason.value}) == 1


async def _honest_publish_accepted(ground: Ground, server: RepoServer, plane: Aircraft, tmp_path: Path) -> None:
    server.overrides.clear()
    (tmp_path / "schedule.json").write_text(json.dumps({"legs": [1]}))
    ground.publish(tmp_path / "schedule.json")
    outcome = await plane.refresh()
    assert outcome.ok, outcome
    assert plane.trusted.targetinfo("schedule.json") is not None


def _static(data: bytes) -> Callable[[web.Request], object]:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=data)
    return answer


async def test_tampered_target(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, _server, plane, _src = setup
    info = plane.trusted.targetinfo("content/day1/a.txt")
    assert info is not None
    served = ground.repo / "targets" / "content" / "day1" / f"{info.hashes['sha256']}.a.txt"
    served.write_bytes(b"HELLO")  # same length, other bytes
    dest = tmp_path / "a.txt"
    dest.write_bytes(b"previous")
    assert await asyncio.to_thread(plane.trusted.download, "content/day1/a.txt", dest) is Refusal.LENGTH_OR_HASH
    assert dest.read_bytes() == b"previous"  # the last good file kept
    served.write_bytes(b"hello")
    assert await asyncio.to_thread(plane.trusted.download, "content/day1/a.txt", dest) is None


async def test_tampered_metadata(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, server, plane, _src = setup
    ground.publish()
    raw = json.loads(ground.metadata("timestamp.json").read_bytes())
    raw["signed"]["expires"] = "2099-01-01T00:00:00Z"  # an attacker extends the expiry, keeps the signature
    server.overrides["metadata/timestamp.json"] = _static(json.dumps(raw).encode())  # type: ignore[assignment]
    await _refused(plane, Refusal.SIGNATURE)
    # a tampered snapshot: its bytes are not the ones the timestamp's hash names
    server.overrides.clear()
    snap = json.loads(ground.metadata("3.snapshot.json").read_bytes())
    snap["signed"]["expires"] = "2099-01-01T00:00:00Z"
    tampered = json.dumps(snap, separators=(",", ":"), sort_keys=True).encode()  # same length, other bytes
    assert len(tampered) == ground.metadata("3.snapshot.json").stat().st_size
    server.overrides["metadata/3.snapshot.json"] = _static(tampered)  # type: ignore[assignment]
    await _refused(plane, Refusal.LENGTH_OR_HASH)
    # garbage where metadata should be
    server.overrides.clear()
    server.overrides["metadata/timestamp.json"] = _static(b"{not json")  # type: ignore[assignment]
    await _refused(plane, Refusal.MALFORMED)
    await _honest_publish_accepted(ground, server, plane, tmp_path)


async def test_signature_by_the_wrong_key(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, server, plane, _src = setup
    ground.publish()
    md = Metadata[Timestamp].from_file(str(ground.metadata("timestamp.json")))
    md.signed.version += 10
    md.signatures.clear()
    md.sign(CryptoSigner.generate_ed25519())
    server.overrides["metadata/timestamp.json"] = _static(md.to_bytes())  # type: ignore[assignment]
    await _refused(plane, Refusal.SIGNATURE)
    # signed by another role's genuine key (the snapshot key is not the timestamp's)
    from appliance.trust.keys import KeyStore

    md.signatures.clear()
    md.sign(KeyStore(ground.keys).signers("snapshot")[0])
    server.overrides["metadata/timestamp.json"] = _static(md.to_bytes())  # type: ignore[assignment]
    await _refused(plane, Refusal.SIGNATURE)
    await _honest_publish_accepted(ground, server, plane, tmp_path)


async def test_rollback_of_metadata_and_of_a_bundle(setup: tuple[Ground, RepoServer, Aircraft, Path],
                                                    tmp_path: Path) -> None:
    ground, server, plane, src = setup
    old_timestamp = ground.metadata("timestamp.json").read_bytes()  # v2: points at the day1 bundle
    (src / "a.txt").write_bytes(b"day two")
    ground.publish(src, prefix="content")
    assert (await plane.refresh()).ok
    # the attacker replays the older, genuinely signed timestamp (and with it the older bundle)
    server.overrides["metadata/timestamp.json"] = _static(old_timestamp)  # type: ignore[assignment]
    await _refused(plane, Refusal.ROLLBACK)
    info = plane.trusted.targetinfo("content/day1/a.txt")
    assert info is not None and info.length == len(b"day two")
    await _honest_publish_accepted(ground, server, plane, tmp_path)


async def test_freeze_stale_timestamp_past_expiry(setup: tuple[Ground, RepoServer, Aircraft, Path],
                                                  tmp_path: Path) -> None:
    ground, _server, plane, _src = setup
    # the ground (or an attacker in between) keeps serving the same metadata; the timestamp lives 2 days
    await _refused(plane, Refusal.EXPIRED, reference=T_NOW + 3 * 86400)
    ground.clock = ground.clock.replace(day=4)
    ground.publish()  # the honest re-sign renews the timestamp: accepted at that later time
    outcome = await plane.refresh(T_NOW + 3 * 86400)
    assert outcome.ok, outcome


async def test_mix_and_match(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, server, plane, src = setup
    (src / "a.txt").write_bytes(b"day two")
    ground.publish(src, prefix="content")  # timestamp v3 -> snapshot v3 -> targets v3
    # the new timestamp, but the snapshot/targets from an older (genuine) version at the new names
    server.overrides["metadata/3.snapshot.json"] = _static(  # type: ignore[assignment]
        ground.metadata("2.snapshot.json").read_bytes())
    await _refused(plane, Refusal.MIX_AND_MATCH)
    server.overrides.clear()
    server.overrides["metadata/3.targets.json"] = _static(  # type: ignore[assignment]
        ground.metadata("2.targets.json").read_bytes())
    await _refused(plane, Refusal.MIX_AND_MATCH)
    await _honest_publish_accepted(ground, server, plane, tmp_path)


async def test_endless_data(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, server, plane, _src = setup

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(100_000):
                await response.write(b" " * 65536)
        except (ConnectionError, RuntimeError):
            pass
        return response

    server.overrides["metadata/timestamp.json"] = endless
    await _refused(plane, Refusal.ENDLESS_DATA)
    server.overrides.clear()
    ground.publish()
    server.overrides["metadata/3.snapshot.json"] = _static(  # longer than the timestamp declares
        ground.metadata("3.snapshot.json").read_bytes() + b" " * 100)  # type: ignore[assignment]
    await _refused(plane, Refusal.ENDLESS_DATA)
    server.overrides.clear()
    info = plane.trusted.targetinfo("content/day1/b.bin")
    assert info is not None
    server.overrides[f"targets/content/day1/{info.hashes['sha256']}.b.bin"] = endless
    dest = tmp_path / "b.bin"
    assert await asyncio.to_thread(plane.trusted.download, "content/day1/b.bin", dest) is Refusal.ENDLESS_DATA
    assert not dest.exists()
    await _honest_publish_accepted(ground, server, plane, tmp_path)


async def test_slow_retrieval(setup: tuple[Ground, RepoServer, Aircraft, Path], tmp_path: Path) -> None:
    ground, server, plane, _src = setup
    ground.publish()
    body = ground.metadata("timestamp.json").read_bytes()

    async def trickle(request: web.Request) -> web.StreamResponse:  # 100 B/s, the minimum is 2048 B/s
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        try:
            for i in range(0, len(body), 10):
                await response.write(body[i:i + 10])
                await asyncio.sleep(0.1)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def stall(request: web.Request) -> web.StreamResponse:  # headers, then nothing
        response = web.StreamResponse(headers={"Content-Length": str(len(body))})
        await response.prepare(request)
        await asyncio.sleep(5)
        return response

    loop = asyncio.get_running_loop()
    for attack in (trickle, stall):
        server.overrides["metadata/timestamp.json"] = attack
        started = loop.time()
        await _refused(plane, Refusal.SLOW_RETRIEVAL)
        assert loop.time() - started < 3.0  # bounded by the grace and the read timeout, not by the server
    await _honest_publish_accepted(ground, server, plane, tmp_path)
