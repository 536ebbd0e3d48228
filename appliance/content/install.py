"""`appliance content install BUNDLE_DIR`: a bundle made by `content pack` (from a USB stick, say) installed
without the ground, daemon running or not.

    1. the bundle's manifest is parsed and every file it lists is checked (size, every chunk's SHA-256);
    2. the files are copied into `<store>/incoming/<bundle id>.<pid>/` (outside staging/, which the ground
       sync owns) and verified again there: what is installed is what was verified, even if the stick is
       pulled or flips a bit while it is read;
    3. under the store's lock (appliance.content.storelock: the running daemon's sync and repairs take it too),
       an interrupted earlier install is finished and the copy goes in through ContentStore.install, the same
       atomic path as the ground sync: fsync, intent, rename, `current` swapped, old bundles removed.
A crash at any point leaves the old bundle active or the new one, never a mix; a copy a crash left in
incoming/ is removed by the next install or the daemon's next start. The running daemon notices the new bundle
through its file watch and periodic scan, as after a ground sync.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from appliance.content.hashing import verify_file
from appliance.content.manifest import Manifest, ManifestError, load_manifest
from appliance.content.store import ContentStore
from appliance.fs.durable import fsync_tree, remove_tree
from appliance.procs import pid_alive

INCOMING = "incoming"
LOCK_TIMEOUT_S = 120.0


class Refused(Exception):
    """The bundle cannot be installed (the reason is for the engineer); the store is as it was."""


@dataclass
class Installed:
    bundle_id: str
    directory: Path
    files: int
    bytes: int
    already: bool = False


def verify_bundle(bundle: Path) -> Manifest:
    """The bundle's manifest, once every file it lists is there with the right size and hashes. Raises Refused."""
    if not bundle.is_dir():
        raise Refused(f"{bundle}: not a directory")
    try:
        manifest = load_manifest(bundle)
    except ManifestError as error:
        raise Refused(f"{bundle}: not a bundle made by `appliance content pack`: {error}") from None
    _verify_files(bundle, manifest)
    return manifest


def _verify_files(directory: Path, manifest: Manifest) -> None:
    for entry in manifest.files:
        kind, detail, _ = verify_file(str(directory / entry.path), entry.size, entry.chunks, manifest.chunk_size)
        if kind != "ok":
            raise Refused(f"{directory / entry.path}: {kind}{': ' + detail if detail else ''}")


def remove_stale_incoming(store: ContentStore) -> int:
    """Remove copies left in incoming/ by installs whose process is gone; the number removed."""
    root = store.root / INCOMING
    try:
        names = os.listdir(root)
    except OSError:
        return 0
    removed = 0
    for name in names:
        _, _, pid = name.rpartition(".")
        if pid.isdigit() and pid_alive(int(pid)) and int(pid) != os.getpid():
            continue
        remove_tree(root / name, store.ops)
        removed += 1
    if removed:
        store.ops.fsync_dir(root)
    return removed



def install_bundle(store: ContentStore, bundle: Path, lock_timeout: float = LOCK_TIMEOUT_S) -> Installed:
    """Verify `bundle`, copy it into the store and make it active (see the module's docstring). Raises Refused
    (bad bundle, no space, the store busy for longer than `lock_timeout`) with the store unchanged; an OSError
    while installing leaves the old bundle or the new one active."""
    from appliance.content.storelock import StoreBusy

    manifest = verify_bundle(bundle)
    active = store.active_manifest()
    active_dir = store.active_dir()
    if (
        active is not None
        and active_dir is not None
        and active.bundle_id == manifest.bundle_id
        and active.files == manifest.files
        and not store.damage().get(active_dir.name)
    ):
        return Installed(manifest.bundle_id, active_dir, len(manifest.files), manifest.total_size, already=True)
    store.ensure_layout()
    free = shutil.disk_usage(store.root).free
    if manifest.total_size > free:
        raise Refused(f"no space: the bundle needs {manifest.total_size} bytes, {free} free in {store.root}")
    incoming = store.root / INCOMING
    if not incoming.is_dir():
        store.ops.mkdir(incoming)
        store.ops.fsync_dir(store.root)
    remove_stale_incoming(store)
    files_dir = incoming / f"{manifest.bundle_id}.{os.getpid()}"
    try:
        for entry in manifest.files:
            target = files_dir / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundle / entry.path, target, follow_symlinks=False)
        _verify_files(files_dir, manifest)
        fsync_tree(files_dir, store.ops)
        try:
            store.lock.acquire(timeout=lock_timeout)
        except StoreBusy as busy:
            raise Refused(str(busy)) from None
        try:
            store.recover()  # an install a crash interrupted is finished first: one intent at a time
            directory = store.install(files_dir, manifest)
        finally:
            store.lock.release()
    finally:
        if files_dir.exists():
            remove_tree(files_dir, store.ops)
    return Installed(manifest.bundle_id, directory, len(manifest.files), manifest.total_size)
