"""`appliance content install BUNDLE_DIR`: a bundle from `content pack` verified and installed through the
store's atomic path, with the daemon's content component running or not, one change at a time across
processes (the store's lock), and a kill mid-way leaving the old bundle or the new one."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path

from appliance.content.component import ContentComponent
from appliance.content.config import ContentConfig
from appliance.content.pack import pack
from appliance.content.store import ContentStore
from appliance.metrics import Metrics
from tests.conftest import python_module, subprocess_env
from tests.content_support import KIB, write_tree
from tests.test_groundlink_window import until

MIB = 1024 * KIB


def store_with(tmp_path: Path, bundle_id: str = "A") -> ContentStore:
    src = tmp_path / f"src-{bundle_id}"
    write_tree(src, {"catalog.json": b'{"v": "A"}', "videos/a.mp4": 200 * KIB})
    store = ContentStore(tmp_path / "content")
    store.ensure_layout()
    store.install(store.staging / "incoming", pack(src, store.staging / "incoming", bundle_id=bundle_id))
    return store


def usb_bundle(tmp_path: Path, bundle_id: str = "B", files: dict[str, int | bytes] | None = None) -> Path:
    src = tmp_path / f"src-{bundle_id}"
    write_tree(src, files or {"catalog.json": b'{"v": "B"}', "videos/b.mp4": 300 * KIB, "news/p.pdf": 50 * KIB},
               seed=7)
    usb = tmp_path / "usb" / bundle_id
    pack(src, usb, bundle_id=bundle_id)
    return usb


def argv(store: ContentStore, bundle: Path) -> list[str]:
    return python_module("appliance", "content", "install", str(bundle), "--content", str(store.root))


def install(store: ContentStore, bundle: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv(store, bundle), env=subprocess_env(), capture_output=True, text=True, timeout=60)


def fsck(store: ContentStore) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python_module("appliance", "fsck", "--json", "--content", str(store.root)),
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)


def test_a_packed_bundle_is_verified_installed_and_active(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    usb = usb_bundle(tmp_path)
    result = install(store, usb)
    assert result.returncode == 0, result.stderr
    assert "B: installed and active" in result.stdout
    assert store.active_id() == "B" and [p.name for p in store.installed()] == ["B"]  # the old one removed
    active = store.active_dir()
    assert active is not None and (active / "videos/b.mp4").stat().st_size == 300 * KIB
    assert not any((store.root / "incoming").iterdir())
    checked = fsck(store)
    assert checked.returncode == 0 and json.loads(checked.stdout)["problems"] == []
    again = install(store, usb)
    assert again.returncode == 0 and "already active" in again.stdout


def test_a_bad_bundle_is_refused_with_a_reason_and_nothing_changes(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    usb = usb_bundle(tmp_path)
    with open(usb / "videos/b.mp4", "r+b") as handle:  # one flipped bit on the stick
        handle.seek(100 * KIB)
        byte = handle.read(1)
        handle.seek(100 * KIB)
        handle.write(bytes([byte[0] ^ 1]))
    refused = install(store, usb)
    assert refused.returncode == 1 and "refused" in refused.stderr and "videos/b.mp4: corrupt" in refused.stderr
    (usb / "news/p.pdf").unlink()
    missing = install(store, usb)
    assert missing.returncode == 1 and "news/p.pdf: missing" in missing.stderr
    (usb / "manifest.json").unlink()
    not_a_bundle = install(store, usb)
    assert not_a_bundle.returncode == 1 and "not a bundle made by `appliance content pack`" in not_a_bundle.stderr
    assert install(store, tmp_path / "nowhere").returncode == 1
    for result in (refused, missing, not_a_bundle):
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1  # one line
    assert store.active_id() == "A" and [p.name for p in store.installed()] == ["A"]


def test_an_install_waits_while_another_process_changes_the_store(tmp_path: Path) -> None:
    """The daemon's sync and repairs hold the store's lock while they change it: the CLI's install waits."""
    store = store_with(tmp_path)
    usb = usb_bundle(tmp_path)
    holder = ContentStore(store.root)  # as the running daemon's store
    holder.lock.acquire()
    try:
        process = subprocess.Popen(argv(store, usb), env=subprocess_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        assert process.poll() is None and store.active_id() == "A"
    finally:
        holder.lock.release()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert store.active_id() == "B"


async def test_a_running_content_component_takes_the_new_bundle(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    component = ContentComponent(ContentConfig(dir=str(store.root), rehash_mb_per_s=0, scan_interval_s=0.5),
                                 Metrics(), None)
    await component.start()
    try:
        assert component.store.active_id() == "A"
        usb = usb_bundle(tmp_path)
        result = await asyncio.to_thread(install, store, usb)
        assert result.returncode == 0, result.stderr
        assert component.store.active_id() == "B"  # the daemon's own view: one readlink away
        # its watch or scan checks the new bundle (a check already under way may still report the old one)
        await until(lambda: component.last_report is not None and component.last_report.files == 3, 10.0)
        report = component.last_report
        assert report is not None and report.problems == [] and report.bundles == 1
        assert component.health().status == "pass"
    finally:
        await component.stop()


def test_a_killed_install_leaves_the_old_bundle_and_the_next_one_cleans_up(tmp_path: Path) -> None:
    store = store_with(tmp_path)
    usb = usb_bundle(tmp_path, files={f"videos/v{n:02d}.mp4": 4 * MIB for n in range(24)})
    process = subprocess.Popen(argv(store, usb), env=subprocess_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    incoming = store.root / "incoming"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (incoming.is_dir() and any(incoming.iterdir())):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert store.active_id() == "A" and [p.name for p in store.installed()] == ["A"]
    assert fsck(store).returncode == 0  # the store is whole: the copy is not part of it
    result = install(store, usb)
    assert result.returncode == 0, result.stderr
    assert store.active_id() == "B" and not any(incoming.iterdir())
