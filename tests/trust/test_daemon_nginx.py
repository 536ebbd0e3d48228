"""The airline's pipeline with the real command-line tools (`appliance content pack --publish`, then
`appliance trust init` / `publish`), its output served by real nginx as plain static files (the stock Debian
http settings, gzip on), and the daemon's ground link, content and trust components syncing from it: the
bundle and the schedule installed through TUF; a bucket changed behind nginx's back refused with the last good
bundle kept; the next signed edition taken."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.component import Status
from tests.conftest import subprocess_env
from tests.content_support import write_tree
from tests.nginx_support import REPO, NginxGround, nginx_ground, pack_with_cli
from tests.trust.daemon_support import plane

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx (make debs: nginx-light)")

LEG = {"flight_number": "IB3101", "origin": "LEBL", "destination": "LEMD",
       "departure": "2026-11-23T08:00:00+00:00", "arrival": "2026-11-23T09:10:00+00:00"}


def trust_cli(*argv: str) -> None:
    subprocess.run([sys.executable, "-m", "appliance", "trust", *argv], check=True, capture_output=True,
                   env=subprocess_env(), cwd=REPO, timeout=60)


def publish(ground: NginxGround, keys: Path, tmp: Path, bundle_id: str, seed: int) -> None:
    """Pack a bundle with the CLI and sign it (with the index) as `content/...` targets."""
    src = tmp / f"src-{bundle_id}"
    write_tree(src, {"news/today.html": 20_000, "video/clip.ts": 300_000}, seed=seed)
    pack_with_cli(src, ground, bundle_id)
    repo = str(ground.root / "tuf")
    trust_cli("publish", "--keys", str(keys), "--repo", repo, "--prefix", "content",
              str(ground.content_dir / bundle_id), str(ground.content_dir / "index.json"))
    ground.readable()


async def test_the_daemon_syncs_a_signed_tree_from_nginx(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with nginx_ground() as ground:
        trust_cli("init", "--keys", str(keys), "--repo", str(ground.root / "tuf"))
        publish(ground, keys, tmp_path, "day1", seed=1)
        (ground.root / "schedule.json").write_text(json.dumps({"legs": [LEG]}))
        trust_cli("publish", "--keys", str(keys), "--repo", str(ground.root / "tuf"),
                  str(ground.root / "schedule.json"))
        ground.readable()
        async with plane(tmp_path, ground.url, ground.root / "tuf" / "metadata" / "1.root.json") as p:
            await p.sync(lambda: p.active() == "day1" and len(p.link.schedule.legs) == 1,
                         "day1 and the schedule through TUF from nginx")
            assert p.trust_health().status is Status.PASS
            metadata = [r for r in ground.requests() if r.path.startswith("/tuf/metadata/")]
            assert {r.path for r in metadata} >= {"/tuf/metadata/timestamp.json"}
            # the bucket behind the CDN is changed: an unsigned edition packed in place of the index
            src = tmp_path / "src-evil"
            write_tree(src, {"news/today.html": 20_000}, seed=9)
            pack_with_cli(src, ground, "evil")
            await p.sync(lambda: p.refusals("length_or_hash") >= 1, "the unsigned index refused")
            assert p.active() == "day1"
            health = p.trust_health()
            assert health.status is Status.WARN and health.details["reason"] == "length_or_hash"
            # the pipeline signs the next edition: taken
            publish(ground, keys, tmp_path, "day2", seed=2)
            await p.sync(lambda: p.active() == "day2", "day2 signed and taken")
            assert p.trust_health().status is Status.PASS
            ranged = [r for r in ground.requests() if r.path.startswith("/content/day2/") and r.range]
            assert ranged, "the chunked sync still fetches with Range from the plain tree"
