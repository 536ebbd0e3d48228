"""Stock nginx as the whole ground station, through the daemon's real ground link and content sync.

nginx with Debian's stock http settings (`gzip on`, sendfile) answers a Range request for a compressible file
(the HTML guide, the catalog) with a compressed full 200 unless the client asks for identity; with
`max_ranges 0` (or a CDN that ignores Range) every Range request gets the whole file as a 200. Edition 1 must
activate, edition 2 must fetch only its changed chunks, and an answer the sync cannot use is counted and
reported, never looped on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from appliance.content.component import ContentComponent
from appliance.content.config import ContentConfig
from appliance.content.manifest import CHUNK_SIZE, Manifest, load_manifest
from appliance.content.metrics import ContentMetrics
from appliance.groundlink.link import GroundLink
from appliance.metrics import Metrics
from appliance.timebase import SystemClock
from firmware_sim.content_samples import generate
from tests.content_support import write_tree
from tests.groundlink_support import MemoryOutbox, config
from tests.nginx_support import NginxGround, nginx_ground, pack_with_cli

FILM = 5 * CHUNK_SIZE + 1000


class Anchor:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []

    def anchor(self, wall: float, quality: str) -> None:
        self.calls.append((wall, quality))


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def edition(tmp: Path, day: date, film: bytes) -> Path:
    """The simulator's sample content of `day` (newspaper, magazines, HLS film, HTML guide, catalog) plus a
    film of several chunks."""
    src = generate(tmp / f"src-{day}", day)
    write_tree(src, {"video/feature.mp4": film})
    return src


def schedule() -> bytes:
    now = datetime.now(UTC)
    leg = {"flight_number": "IB3101", "origin": "LEBL", "destination": "LEMD",
           "departure": (now + timedelta(hours=1)).isoformat(), "arrival": (now + timedelta(hours=2)).isoformat()}
    return json.dumps({"legs": [leg]}).encode()


def new_chunk_bytes(old: Manifest | None, new: Manifest) -> int:
    """What a sync from `old` to `new` must fetch: every chunk of `new` whose hash `old` does not have."""
    have = {digest for entry in old.files for digest in entry.chunks} if old is not None else set()
    return sum(entry.chunk_range(i, new.chunk_size)[1] for entry in new.files
               for i, digest in enumerate(entry.chunks) if digest not in have)


@asynccontextmanager
async def daemon_link(ground: NginxGround, tmp_path: Path) -> AsyncIterator[tuple[GroundLink, ContentComponent,
                                                                                 MemoryOutbox, Metrics, Anchor]]:
    """The daemon's ground link (no modem or flight state: a maintenance bench on Ethernet) with the real
    content component, an outbox holding one booking, and a time anchor."""
    metrics = Metrics()
    content = ContentComponent(ContentConfig(dir=str(tmp_path / "content")), metrics, None)
    outbox = MemoryOutbox()
    await outbox.append("booking", {"item": "hotel-madrid", "email": "a@example.org"})
    anchor = Anchor()
    settings = {"poll_seconds": 0.02, "health_seconds": 0.2, "modem_required": False, "flight_required": False}
    link = GroundLink(config(ground.url, **settings), SystemClock(), metrics, state_dir=tmp_path,
                      outbox=outbox, content=content, time_anchor=anchor)
    await content.start()
    await link.start()
    try:
        yield link, content, outbox, metrics, anchor
    finally:
        await link.stop()
        await content.stop()


def content_requests(ground: NginxGround, *, ranged: bool) -> list[Any]:
    return [r for r in ground.requests() if r.path.startswith("/content/") and bool(r.range) == ranged]


async def test_stock_nginx_editions_activate_fetching_only_changed_chunks(tmp_path: Path) -> None:
    film = random.Random(3).randbytes(FILM)
    with nginx_ground() as ground:
        (ground.root / "schedule.json").write_bytes(schedule())
        pack_with_cli(edition(tmp_path, date(2026, 11, 23), film), ground, "content-2026-11-23")
        async with daemon_link(ground, tmp_path) as (link, content, outbox, metrics, anchor):
            await until(lambda: link.content_runs >= 1)
            first = link.last_content
            assert first["status"] == "activated", link.snapshot()
            v1 = load_manifest(ground.content_dir / "content-2026-11-23")
            assert first["bytes_downloaded"] == v1.total_size
            assert content.store.active_id() == "content-2026-11-23"
            root = content.store.active_root()
            assert root is not None
            guide = root / "guides" / "madrid.html"
            assert guide.read_bytes() == (ground.content_dir / "content-2026-11-23/guides/madrid.html").read_bytes()
            # the whole ground worked: orders, telemetry, schedule, clock
            assert outbox.pending() == [] and len(outbox.delivered) == 1
            assert link.telemetry_sent == 1
            assert link.schedule.snapshot()["legs"] == 1
            assert anchor.calls and anchor.calls[0][1] == "network"
            assert link.clock_skew is not None and abs(link.clock_skew) < 2
            ranged = content_requests(ground, ranged=True)
            assert ranged and all(r.status == 206 and r.content_encoding == "" for r in ranged), ranged
            assert all(r.accept_encoding == "identity" for r in content_requests(ground, ranged=False) + ranged)
            served = sum(r.body_bytes for r in ranged)
            assert served == v1.total_size

            # edition 2: a new newspaper and catalog, one chunk of the film changed, the rest as it was
            changed = bytearray(film)
            changed[2 * CHUNK_SIZE + 10 : 2 * CHUNK_SIZE + 20] = b"0123456789"
            pack_with_cli(edition(tmp_path, date(2026, 11, 24), bytes(changed)), ground, "content-2026-11-24")
            v2 = load_manifest(ground.content_dir / "content-2026-11-24")
            expected = new_chunk_bytes(v1, v2)
            assert 0 < expected < v2.total_size // 2
            link.request_sync()
            await until(lambda: link.content_runs >= 2)
            second = link.last_content
            assert second["status"] == "activated", link.snapshot()
            assert content.store.active_id() == "content-2026-11-24"
            assert second["bytes_downloaded"] == expected
            assert sum(r.body_bytes for r in content_requests(ground, ranged=True)) - served == expected
            root = content.store.active_root()
            assert root is not None
            feature = (root / "video" / "feature.mp4").read_bytes()
            assert hashlib.sha256(feature).hexdigest() == hashlib.sha256(changed).hexdigest()
            assert metrics.of(ContentMetrics).content_unusable_answers.labels(reason="encoding")._value.get() == 0


async def test_a_server_that_ignores_range_still_activates_each_file_once(tmp_path: Path) -> None:
    """`max_ranges 0`: nginx answers every Range request with the whole file (a 200), as a CDN may. The sync
    takes the whole file it asked about and does not fetch it again chunk by chunk."""
    film = random.Random(3).randbytes(FILM)
    with nginx_ground("max_ranges 0;") as ground:
        (ground.root / "schedule.json").write_bytes(schedule())
        pack_with_cli(edition(tmp_path, date(2026, 11, 23), film), ground, "content-2026-11-23")
        async with daemon_link(ground, tmp_path) as (link, content, _outbox, _metrics, _anchor):
            await until(lambda: link.content_runs >= 1)
            result = link.last_content
            assert result["status"] == "activated", link.snapshot()
            v1 = load_manifest(ground.content_dir / "content-2026-11-23")
            ranged = content_requests(ground, ranged=True)
            assert all(r.status == 200 for r in ranged)
            # at most the requests already in flight when the first whole film arrived read a part again
            assert result["bytes_downloaded"] <= v1.total_size + 3 * FILM
            feature = content.store.active_root() / "video" / "feature.mp4"  # type: ignore[operator]
            assert feature.read_bytes() == film


async def test_an_unusable_answer_is_counted_reported_and_not_looped_on(tmp_path: Path) -> None:
    """A file whose URL answers 200 with something else (an error page of the wrong size): counted, reported in
    the sync result, the health and the metric; every other file is fetched; no retry loop. Once the ground
    serves it properly, the next sync fetches only that file."""
    film = random.Random(3).randbytes(FILM)
    broken = "location = /content/content-2026-11-23/guides/madrid.html { return 200 'maintenance'; }"
    with nginx_ground(broken) as ground:
        (ground.root / "schedule.json").write_bytes(schedule())
        pack_with_cli(edition(tmp_path, date(2026, 11, 23), film), ground, "content-2026-11-23")
        v1 = load_manifest(ground.content_dir / "content-2026-11-23")
        guide = next(e for e in v1.files if e.path == "guides/madrid.html")
        async with daemon_link(ground, tmp_path) as (link, content, _outbox, metrics, _anchor):
            await until(lambda: link.content_runs >= 1)
            result = link.last_content
            assert result["status"] == "failed", result
            assert result["unusable_answers"] == 1
            assert "guides/madrid.html" in result["error"]
            assert metrics.of(ContentMetrics).content_unusable_answers.labels(reason="not_the_file")._value.get() == 1
            assert "unusable" in content.health().reason
            guide_requests = [r for r in ground.requests() if r.path.endswith("/guides/madrid.html")]
            assert len(guide_requests) == 1
            assert result["bytes_downloaded"] == v1.total_size - guide.size  # the unusable body is not read
            ground.reconfigure("")
            link.request_sync()
            await until(lambda: link.content_runs >= 2)
            again = link.last_content
            assert again["status"] == "activated", again
            assert again["bytes_downloaded"] == guide.size
            assert content.store.active_id() == "content-2026-11-23"
