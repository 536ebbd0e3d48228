"""Ground tools: init / publish / rotate round trips, on disk, through the real command line too."""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from appliance.cli import main
from appliance.content.pack import pack
from appliance.trust import repo as trust_repo
from tests.trust.support import NOW, Ground, bundle


def _versions(g: Ground) -> dict[str, int]:
    r = trust_repo.Repo(g.keys, g.repo)
    return {"root": r.root_version(), "timestamp": r.load_timestamp().signed.version,
            "snapshot": r.load_snapshot().signed.version, "targets": r.load_targets().signed.version}


def test_init_creates_keys_0600_and_first_metadata(tmp_path: Path) -> None:
    g = Ground(tmp_path / "keys", tmp_path / "repo")
    g.init(root_keys=3, root_threshold=2)
    pems = sorted(g.keys.rglob("*.pem"))
    assert len(pems) == 6  # 3 root + targets + snapshot + timestamp
    for pem in pems:
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert stat.S_IMODE(pem.parent.stat().st_mode) == 0o700
    root = Metadata[Root].from_file(str(g.metadata("1.root.json")))
    assert root.signed.consistent_snapshot is True
    assert root.signed.roles["root"].threshold == 2 and len(root.signed.roles["root"].keyids) == 3
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)
    assert g.metadata("root.json").read_bytes() == g.metadata("1.root.json").read_bytes()
    for name in ("timestamp.json", "1.snapshot.json", "1.targets.json"):
        assert g.metadata(name).is_file()
    assert _versions(g) == {"root": 1, "timestamp": 1, "snapshot": 1, "targets": 1}
    with pytest.raises(trust_repo.RepoError, match="already"):
        g.init()
    with pytest.raises(trust_repo.RepoError, match="threshold"):
        Ground(tmp_path / "k2", tmp_path / "r2").init(root_keys=2, root_threshold=3)


def test_publish_a_packed_bundle_hash_prefixed_and_resigned(ground: Ground, tmp_path: Path) -> None:
    src = bundle(tmp_path / "src", {"video/a.ts": b"A" * 5000, "guide/index.html": b"<p>hi</p>"})
    bundles = tmp_path / "bundles"
    pack(src, bundles / "day1", bundle_id="day1", now=NOW)
    names = trust_repo.publish(ground.keys, ground.repo, [bundles / "day1"], prefix="content", now=NOW)
    assert sorted(names) == ["content/day1/guide/index.html", "content/day1/manifest.json", "content/day1/video/a.ts"]
    targets = ground_targets(ground)
    for name in names:
        info = targets.targets[name]
        digest = info.hashes["sha256"]
        rel = Path(name)
        stored = ground.repo / "targets" / rel.parent / f"{digest}.{rel.name}"
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
        assert stored.stat().st_size == info.length
    assert _versions(ground) == {"root": 1, "timestamp": 2, "snapshot": 2, "targets": 2}
    # the old versions stay (a CDN may have cached them); timestamp points at the new snapshot by hash
    assert ground.metadata("1.snapshot.json").is_file() and ground.metadata("1.targets.json").is_file()
    ts = Metadata[Timestamp].from_file(str(ground.metadata("timestamp.json")))
    ts.signed.snapshot_meta.verify_length_and_hashes(ground.metadata("2.snapshot.json").read_bytes())
    snap = Metadata[Snapshot].from_file(str(ground.metadata("2.snapshot.json")))
    snap.signed.meta["targets.json"].verify_length_and_hashes(ground.metadata("2.targets.json").read_bytes())

    # replacing a target: new hash-prefixed file, the old one kept
    (bundles / "day1" / "video" / "a.ts").write_bytes(b"B" * 5000)
    trust_repo.publish(ground.keys, ground.repo, [bundles / "day1" / "video" / "a.ts"], prefix="content/day1/video",
                   now=NOW)
    assert ground_targets(ground).targets["content/day1/video/a.ts"].hashes["sha256"] == hashlib.sha256(
        b"B" * 5000).hexdigest()
    assert len(list((ground.repo / "targets" / "content" / "day1" / "video").iterdir())) == 2
    # re-signing only (no paths): snapshot and timestamp renewed, targets untouched
    trust_repo.publish(ground.keys, ground.repo, [], now=NOW)
    assert _versions(ground) == {"root": 1, "timestamp": 4, "snapshot": 4, "targets": 3}


def ground_targets(g: Ground) -> Targets:
    return trust_repo.Repo(g.keys, g.repo).load_targets().signed


def test_publish_needs_no_root_key_offline_root(ground: Ground, tmp_path: Path) -> None:
    shutil.move(ground.keys / "root", tmp_path / "offline-root")
    (tmp_path / "schedule.json").write_text(json.dumps({"legs": []}))
    assert ground.publish(tmp_path / "schedule.json") == ["schedule.json"]
    with pytest.raises(trust_repo.RepoError, match="root"):  # rotation needs the offline root keys
        ground.rotate("timestamp")


def test_rotate_each_role_and_root_threshold(tmp_path: Path) -> None:
    g = Ground(tmp_path / "keys", tmp_path / "repo")
    g.init(root_keys=3, root_threshold=2)
    old_root_keys = {p.stem for p in (g.keys / "root").glob("*.pem")}
    (next(iter(sorted((g.keys / "root").glob("*.pem"))))).unlink()  # one root key lost: 2 of 3 still sign
    g.rotate("root")
    new = Metadata[Root].from_file(str(g.metadata("2.root.json")))
    old = Metadata[Root].from_file(str(g.metadata("1.root.json")))
    old.signed.verify_delegate("root", new.signed_bytes, new.signatures)  # the old root's threshold signed
    new.signed.verify_delegate("root", new.signed_bytes, new.signatures)  # and the new keys did
    assert not set(new.signed.roles["root"].keyids) & old_root_keys
    assert len(new.signed.roles["root"].keyids) == 3 and new.signed.roles["root"].threshold == 2
    assert {p.stem for p in (g.keys / "retired" / "root").glob("*.pem")} <= old_root_keys
    for role in ("targets", "snapshot", "timestamp"):
        before = _versions(g)
        g.rotate(role)
        after = _versions(g)
        assert after["root"] == before["root"] + 1
        root = Metadata[Root].from_file(str(g.metadata(f"{after['root']}.root.json"))).signed
        md_name = {"targets": f"{after['targets']}.targets.json", "snapshot": f"{after['snapshot']}.snapshot.json",
                   "timestamp": "timestamp.json"}[role]
        md = Metadata.from_file(str(g.metadata(md_name)))
        root.verify_delegate(role, md.signed_bytes, md.signatures)  # signed by the new key
        assert len(list((g.keys / role).glob("*.pem"))) == 1
    # two of three root keys gone: below the threshold, rotation refuses and publishes nothing
    for pem in sorted((g.keys / "root").glob("*.pem"))[:2]:
        pem.unlink()
    version = _versions(g)["root"]
    with pytest.raises(trust_repo.RepoError, match="threshold"):
        g.rotate("root")
    assert _versions(g)["root"] == version


def test_cli_init_publish_rotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    src = bundle(tmp_path / "b1", {"a.txt": b"hello"})
    assert main(["trust", "init", "--keys", str(keys), "--repo", str(repo), "--root-keys", "2",
                 "--root-threshold", "2"]) == 0
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(repo), "--prefix", "content", str(src)]) == 0
    assert main(["trust", "rotate", "--keys", str(keys), "--repo", str(repo), "--role", "root"]) == 0
    assert main(["trust", "rotate", "--keys", str(keys), "--repo", str(repo), "--role", "targets"]) == 0
    r = trust_repo.Repo(keys, repo)
    assert r.root_version() == 3 and "content/b1/a.txt" in r.load_targets().signed.targets
    capsys.readouterr()
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(tmp_path / "nowhere"), str(src)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("appliance trust:") and "Traceback" not in err
    assert main(["trust", "init", "--keys", str(keys), "--repo", str(repo)]) == 1


def test_publish_retires_an_old_edition_in_the_same_version(tmp_path: Path) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    assert main(["trust", "init", "--keys", str(keys), "--repo", str(repo)]) == 0
    day1 = bundle(tmp_path / "b" / "day1", {"a.html": b"one", "b.html": b"two"})
    day2 = bundle(tmp_path / "b" / "day2", {"a.html": b"three"})
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(repo), "--prefix", "content", str(day1)]) == 0
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(repo), "--prefix", "content",
                 "--retire", "content/day1", str(day2)]) == 0
    targets = Metadata[Targets].from_file(str(repo / "metadata" / "3.targets.json")).signed
    assert sorted(targets.targets) == ["content/day2/a.html"]
    # retiring is prefix-exact: content/day10 is not content/day1
    day10 = bundle(tmp_path / "b" / "day10", {"x": b"x"})
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(repo), "--prefix", "content", str(day10)]) == 0
    assert main(["trust", "publish", "--keys", str(keys), "--repo", str(repo), "--retire", "content/day1"]) == 0
    targets = Metadata[Targets].from_file(str(repo / "metadata" / "5.targets.json")).signed
    assert sorted(targets.targets) == ["content/day10/x", "content/day2/a.html"]
