"""Bundle format, `appliance content pack`, install and atomic activation, recovery of an interrupted install."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from appliance.content.hashing import file_sha256
from appliance.content.manifest import MANIFEST_NAME, ManifestError, load_manifest, parse_manifest, validate_path
from appliance.content.pack import pack
from appliance.content.store import ContentStore
from tests.conftest import python_module, subprocess_env
from tests.content_support import KIB, write_tree


def test_pack_command_builds_a_bundle_and_publishes_it(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"videos/a.mp4": 600 * KIB, "newspapers/b.pdf": 5 * KIB, "catalog.json": b"{}"})
    result = subprocess.run(
        [
            *python_module("appliance", "content", "pack", str(tmp_path / "src"), str(tmp_path / "ground/b1")),
            *("--bundle-id", "b1", "--publish", "--priority", "videos=5"),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "bundle_id": "b1",
        "files": 3,
        "bytes": 600 * KIB + 5 * KIB + 2,
        "dest": str(tmp_path / "ground/b1"),
        "savable": [],
    }
    manifest = load_manifest(tmp_path / "ground/b1")
    video = manifest.by_path()["videos/a.mp4"]
    assert video.sha256 == file_sha256(tmp_path / "src/videos/a.mp4")
    assert len(video.chunks) == 3 and video.category == "videos" and video.priority == 5
    assert [f.path for f in manifest.in_priority_order()] == ["catalog.json", "videos/a.mp4", "newspapers/b.pdf"]
    index = json.loads((tmp_path / "ground/index.json").read_text())
    assert index["current"] == "b1" and index["bundles"][0]["manifest"] == "b1/manifest.json"


def test_pack_refuses_symlinks(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a": b"x"})
    os.symlink("/etc/passwd", tmp_path / "src/link")
    with pytest.raises(ManifestError, match="symlink"):
        pack(tmp_path / "src", tmp_path / "out", bundle_id="b")
    result = subprocess.run(
        python_module("appliance", "content", "pack", str(tmp_path / "src"), str(tmp_path / "out2")),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "symlink" in result.stderr


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", "", "a\\b", MANIFEST_NAME])
def test_paths_are_validated(bad: str) -> None:
    with pytest.raises(ManifestError):
        validate_path(bad)


def test_manifest_is_validated(tmp_path: Path) -> None:
    write_tree(tmp_path / "src", {"a/b.bin": 300 * KIB})
    good = json.loads(pack(tmp_path / "src", tmp_path / "b", bundle_id="b").to_bytes())
    parse_manifest(json.dumps(good))
    for mutate, message in [
        (lambda m: m["files"][0].update(path="../../etc/passwd"), "relative"),
        (lambda m: m["files"][0].update(size=1), "chunk hashes"),
        (lambda m: m["files"][0].update(sha256="zz"), "sha256"),
        (lambda m: m.update(bundle_id="../x"), "bundle_id"),
        (lambda m: m.update(format=99), "format"),
        (lambda m: m["files"].append(dict(m["files"][0])), "duplicate"),
    ]:
        broken = json.loads(json.dumps(good))
        mutate(broken)
        with pytest.raises(ManifestError, match=message):
            parse_manifest(json.dumps(broken))


def _bundle(store: ContentStore, tmp_path: Path, bundle_id: str, version: int) -> Path:
    """A bundle whose every file says which version it is."""
    src = tmp_path / f"src-{bundle_id}"
    write_tree(
        src,
        {"catalog.json": json.dumps({"version": version}).encode()}
        | {f"n/{i}.txt": f"{version}".encode() * 100 for i in range(10)},
    )
    manifest = pack(src, store.staging / f"in-{bundle_id}", bundle_id=bundle_id)
    return store.install(store.staging / f"in-{bundle_id}", manifest)


def test_install_activates_atomically_and_removes_old_bundles_after(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    assert store.active_root() is None and store.active_id() is None
    first = _bundle(store, tmp_path, "v1", 1)
    assert store.active_root() == first.resolve() and store.active_id() == "v1"

    mixes: list[str] = []
    stop = threading.Event()

    def portal() -> None:
        """Resolve once per request, then read the catalog and a file: both from one version."""
        while not stop.is_set():
            root = store.active_root()
            if root is None:
                mixes.append("no active bundle")
                continue
            try:
                catalog = json.loads((root / "catalog.json").read_bytes())
                page = (root / "n/7.txt").read_bytes()
            except FileNotFoundError:
                continue  # an old bundle removed under a slow request: a 404, never a mix
            if page != str(catalog["version"]).encode() * 100:
                mixes.append(f"catalog {catalog} with page {page[:3]!r}")

    reader = threading.Thread(target=portal)
    reader.start()
    try:
        for version in range(2, 7):
            _bundle(store, tmp_path, f"v{version}", version)
            assert store.active_id() == f"v{version}"
            assert [p.name for p in store.installed()] == [f"v{version}"]
    finally:
        stop.set()
        reader.join()
    assert mixes == []


def test_recover_finishes_an_interrupted_install(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    _bundle(store, tmp_path, "v1", 1)
    # the state a power cut leaves between the rename into bundles/ and the symlink swap
    write_tree(tmp_path / "src2", {"catalog.json": b'{"version": 2}'})
    manifest = pack(tmp_path / "src2", store.bundles / "v2", bundle_id="v2")
    (store.state / "install.json").write_text(json.dumps({"dir": "v2"}))
    assert store.active_id() == "v1"
    ContentStore(store.root).recover()
    assert store.active_id() == manifest.bundle_id
    assert [p.name for p in store.installed()] == ["v2"]
    assert not (store.state / "install.json").exists()


def test_recover_without_intent_keeps_the_active_bundle(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    _bundle(store, tmp_path, "v1", 1)
    write_tree(tmp_path / "src2", {"catalog.json": b'{"version": 2}'})
    pack(tmp_path / "src2", store.bundles / "v2", bundle_id="v2")  # a leftover never made active
    store.recover()
    assert store.active_id() == "v1"
    assert [p.name for p in store.installed()] == ["v1"]


def test_the_quarantine_keeps_the_newest_entries_and_serials_only_grow(tmp_path: Path) -> None:
    from appliance.content.store import ContentStore

    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    bundle = store.bundles / "b1"
    (bundle / "video").mkdir(parents=True)
    for n in range(5):
        (bundle / "video" / f"seg{n}.ts").write_bytes(b"bad")
        store.quarantine_file(bundle, f"video/seg{n}.ts")
    assert [serial for serial, _ in store.quarantined()] == [0, 1, 2, 3, 4]
    assert store.prune_quarantine(keep=3) == 2
    kept = store.quarantined()
    assert [serial for serial, _ in kept] == [2, 3, 4]
    assert (kept[0][1] / "video" / "seg2.ts").read_bytes() == b"bad"
    (bundle / "late.pdf").write_bytes(b"bad")
    assert store.quarantine_file(bundle, "late.pdf").parent.name == "000005-b1"  # never reuses a pruned serial
    assert store.prune_quarantine(keep=0) == 4 and store.quarantined() == []
    assert store.prune_quarantine(keep=3) == 0
