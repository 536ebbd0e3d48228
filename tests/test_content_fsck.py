"""`appliance fsck`: flipped bytes, truncated, deleted and extra files are found; --repair quarantines them;
exit codes 0 / 1 / 4 as fsck(8); --json for machines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from appliance.content.pack import pack
from appliance.content.store import ContentStore
from tests.conftest import python_module, subprocess_env
from tests.content_support import KIB, write_tree


def installed_store(tmp_path: Path) -> tuple[ContentStore, Path]:
    src = tmp_path / "src"
    write_tree(
        src,
        {
            "catalog.json": b"{}",
            "newspapers/a.pdf": 40 * KIB,
            "newspapers/b.pdf": 300 * KIB,
            "videos/c.mp4": 600 * KIB,
            "videos/d.mp4": 10 * KIB,
        },
    )
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    manifest = pack(src, store.staging / "incoming", bundle_id="b1")
    root = store.install(store.staging / "incoming", manifest)
    return store, root


def fsck(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python_module("appliance", "fsck", "--content", str(root), *args),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_fsck_finds_every_kind_and_repair_quarantines(tmp_path: Path) -> None:
    store, root = installed_store(tmp_path)
    clean = fsck(store.root, "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["problems"] == []
    assert clean.stderr == ""  # no progress bar when stderr is not a terminal

    with open(root / "newspapers/b.pdf", "r+b") as handle:  # one flipped bit, same size
        handle.seek(200 * KIB)
        byte = handle.read(1)
        handle.seek(200 * KIB)
        handle.write(bytes([byte[0] ^ 1]))
    with open(root / "videos/c.mp4", "r+b") as handle:
        handle.truncate(100 * KIB)
    (root / "videos/d.mp4").unlink()
    (root / "newspapers/stray.tmp").write_bytes(b"left over")

    found = fsck(store.root, "--json")
    assert found.returncode == 4, found.stdout + found.stderr
    report = json.loads(found.stdout)
    kinds = {(p["kind"], p["path"]) for p in report["problems"]}
    assert kinds == {
        ("corrupt", "newspapers/b.pdf"),
        ("truncated", "videos/c.mp4"),
        ("missing", "videos/d.mp4"),
        ("extra", "newspapers/stray.tmp"),
    }
    assert report["exit_status"] == 4
    assert (root / "newspapers/b.pdf").exists()  # without --repair nothing moves

    repaired = fsck(store.root, "--repair")
    assert repaired.returncode == 1, repaired.stdout + repaired.stderr
    assert "errors corrected" in repaired.stdout
    for rel in ("newspapers/b.pdf", "videos/c.mp4", "newspapers/stray.tmp"):
        assert not (root / rel).exists()
        assert list(store.quarantine.rglob(Path(rel).name)), rel
    assert sorted(store.damage()[root.name]) == ["newspapers/b.pdf", "videos/c.mp4", "videos/d.mp4"]

    after = fsck(store.root, "--json")
    assert after.returncode == 0, after.stdout
    assert json.loads(after.stdout)["awaiting_download"] == {
        root.name: ["newspapers/b.pdf", "videos/c.mp4", "videos/d.mp4"]
    }


def test_fsck_leaves_uncorrectable_errors_with_4(tmp_path: Path) -> None:
    store, root = installed_store(tmp_path)
    (root / "manifest.json").write_text("{not json")
    result = fsck(store.root, "--repair", "--json")
    assert result.returncode == 4
    assert json.loads(result.stdout)["counts"]["manifest"] == 1


def test_fsck_reads_the_content_dir_from_the_config(tmp_path: Path) -> None:
    store, _ = installed_store(tmp_path)
    config = tmp_path / "appliance.toml"
    config.write_text(f'[content]\ndir = "{store.root}"\n')
    result = subprocess.run(
        python_module("appliance", "fsck", "--config", str(config)),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "clean" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[content]\ndri = "x"\n')
    result = subprocess.run(
        python_module("appliance", "fsck", "--config", str(bad)),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 8
    assert "content.dri" in result.stderr


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    import os
    import pty

    store, _ = installed_store(tmp_path)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.run(
            python_module("appliance", "fsck", "--content", str(store.root)),
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
        )
        os.close(terminal)
        output = b""
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:
                break
            if not data:
                break
            output += data
    finally:
        os.close(controller)
    assert process.returncode == 0
    assert b"checking [" in output and b"100%" in output


def test_fsck_also_checks_the_state_directory(tmp_path: Path) -> None:
    """A journal record damaged before the tail is reported (never repaired by fsck): exit 4."""
    import asyncio

    from appliance.metrics import Metrics
    from appliance.storage.component import StorageComponent
    from appliance.storage.config import StorageConfig
    from appliance.timebase import SystemClock

    state = tmp_path / "state"
    content = tmp_path / "content"
    content.mkdir()

    async def write_records() -> None:
        storage = StorageComponent(StorageConfig(dir=str(state)), SystemClock(), Metrics())
        await storage.start()
        assert storage.outbox is not None
        for n in range(3):
            await storage.outbox.append("email", {"item": f"i{n}"})
        await storage.stop()

    asyncio.run(write_records())
    clean = fsck(content, "--json", "--state-dir", str(state))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["state"]["errors"] == []
    segments = sorted((state / "journal").glob("*"))
    segment = next(p for p in segments if p.is_file() and p.stat().st_size > 200)
    data = bytearray(segment.read_bytes())
    data[40] ^= 0xFF
    segment.write_bytes(bytes(data))
    damaged = fsck(content, "--json", "--state-dir", str(state))
    report = json.loads(damaged.stdout)
    assert damaged.returncode == 4, damaged.stdout
    assert report["state"]["errors"]


def test_fsck_that_checked_nothing_says_so_and_exits_8(tmp_path: Path) -> None:
    """An empty directory, or one holding a bundle (as `content pack` made it) instead of a store: nothing was
    checked, so neither "clean" nor 0 (fsck(8)'s 8: an operational error)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = fsck(empty, "--state-dir", str(tmp_path / "no-state"))
    assert result.returncode == 8, result.stdout + result.stderr
    assert "nothing checked" in result.stderr and "clean" not in result.stdout
    assert "Traceback" not in result.stderr
    as_json = fsck(empty, "--json", "--state-dir", str(tmp_path / "no-state"))
    assert as_json.returncode == 8 and json.loads(as_json.stdout)["exit_status"] == 8

    src = tmp_path / "src"
    write_tree(src, {"catalog.json": b"{}", "videos/a.mp4": 10 * KIB})
    bundle = tmp_path / "bundle"
    pack(src, bundle, bundle_id="usb")
    result = fsck(bundle, "--state-dir", str(tmp_path / "no-state"))
    assert result.returncode == 8, result.stdout + result.stderr
    assert "nothing checked" in result.stderr
    assert "appliance content install" in result.stderr  # a bundle: say what to do with it


def test_fsck_reports_and_repairs_a_store_without_its_state_folder(tmp_path: Path) -> None:
    """bundles/ and current but no state/ (a damaged store): reported with 4, repaired with 1, never a
    traceback (it was exit 70)."""
    import shutil

    store, _ = installed_store(tmp_path)
    shutil.rmtree(store.state)
    found = fsck(store.root, "--json")
    assert found.returncode == 4, found.stdout + found.stderr
    assert "Traceback" not in found.stderr
    problems = json.loads(found.stdout)["problems"]
    assert [(p["kind"], p["path"]) for p in problems] == [("layout", "state")]
    assert not store.state.exists()  # without --repair nothing is made
    text = fsck(store.root)
    assert text.returncode == 4 and "layout: state: missing directory" in text.stdout
    repaired = fsck(store.root, "--repair")
    assert repaired.returncode == 1, repaired.stdout + repaired.stderr
    assert store.state.is_dir()
    assert fsck(store.root).returncode == 0
