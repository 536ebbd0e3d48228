"""The content store on disk.

    <root>/bundles/<dir>/manifest.json + files   installed bundles (immutable once installed)
    <root>/current -> bundles/<dir>               the active bundle (symlink swapped atomically)
    <root>/staging/<bundle id>/                    downloads in progress (files/ + progress log)
    <root>/quarantine/<n>-<dir>/<path>             files the checks found corrupt or extra
    <root>/state/                                  stat cache, files being written, damage records

Installing: the bundle's files and directories are fsynced, an install intent is written, the directory is
renamed into bundles/, `current` is swapped, then the intent is cleared and only then old bundles are removed.
A crash anywhere leaves the old bundle active or the new one (recover() finishes an interrupted install).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from appliance.content.manifest import MANIFEST_NAME, Manifest, ManifestError, load_manifest
from appliance.content.storelock import StoreLock
from appliance.fs.atomic import remove_stray_temps
from appliance.fs.durable import REAL_OPS, FileOps, atomic_write_bytes, fsync_tree, move, remove_tree, swap_symlink
from appliance.fs.fileops import ensure_dir

log = logging.getLogger("appliance.content")

STATE_INSTALL = "install.json"
STATE_WRITING = "writing.json"
STATE_DAMAGED = "damaged.json"


def manifest_signature(bundle_dir: Path) -> list[int] | None:
    """Size, mtime and inode of `bundle_dir`'s manifest.json (the stat cache's signature), None if unreadable."""
    try:
        st = os.lstat(bundle_dir / MANIFEST_NAME)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


class ContentStore:
    """Implements appliance.ports.ContentView."""

    def __init__(self, root: Path, ops: FileOps = REAL_OPS) -> None:
        self.root = root
        self.ops = ops  # every durable write goes through it (crash and I/O-error tests pass their own)
        self.bundles = root / "bundles"
        self.staging = root / "staging"
        self.quarantine = root / "quarantine"
        self.state = root / "state"
        self.current = root / "current"
        # bundle dir name -> (its manifest.json's stat signature, bundle id, parsed manifest or None): bundles
        # are immutable once installed, a new install is a new directory and a new manifest inode, so a
        # signature that still matches means the same manifest (see `_known`)
        self._manifests: dict[str, tuple[list[int], str, Manifest | None]] = {}
        self._active_cache: tuple[str, Path] | None = None  # (link target, resolved bundle directory)
        self._next_serial: int | None = None  # of the next quarantine entry
        self.lock = StoreLock(root)  # installs and repairs, one at a time: worker threads and other processes

    # --- layout and recovery ----------------------------------------------------------------------------

    def ensure_layout(self) -> None:
        created = False
        for directory in (self.root, self.bundles, self.staging, self.quarantine, self.state):
            if not directory.is_dir():
                self.ops.mkdir(directory)
                created = True
        if created:
            self.ops.fsync_dir(self.root)
            self.ops.fsync_dir(self.root.parent)

    def recover(self) -> None:
        """Finish an install a crash interrupted; remove bundles that are neither active nor being installed."""
        with self.lock:  # not while another process (`appliance content install`) is installing
            self._recover()

    def _recover(self) -> None:
        self.ensure_layout()
        intent = self._read_state(STATE_INSTALL, None)
        if isinstance(intent, dict) and isinstance(intent.get("dir"), str):
            target = self.bundles / intent["dir"]
            if (target / MANIFEST_NAME).is_file():
                log.info("finishing the interrupted install of %s", target.name)
                swap_symlink(self.current, f"bundles/{target.name}", self.ops)
            self._clear_state(STATE_INSTALL)
        self.remove_old_bundles()

    # --- ContentView ------------------------------------------------------------------------------------

    def active_dir(self) -> Path | None:
        """The resolved directory of the active bundle (None when nothing is installed)."""
        try:
            target = self.ops.readlink(self.current)
        except OSError:
            return None
        cached = self._active_cache  # the portal asks on every request: one readlink, not a realpath walk
        if cached is not None and cached[0] == target:
            return cached[1]
        resolved = (self.root / target).resolve()
        if not resolved.is_dir():
            return None
        self._active_cache = (target, resolved)
        return resolved

    def active_root(self) -> Path | None:
        return self.active_dir()

    def active_manifest(self) -> Manifest | None:
        directory = self.active_dir()
        if directory is None:
            return None
        signature = manifest_signature(directory)
        known = self._manifests.get(directory.name)
        if signature is not None and known is not None and known[0] == signature and known[2] is not None:
            return known[2]
        try:
            manifest = load_manifest(directory)
        except ManifestError as error:
            log.warning("active bundle %s: %s", directory.name, error)
            return None
        if signature is not None:
            self.remember_manifest(directory, signature, manifest.bundle_id, manifest)
        return manifest

    def active_id(self) -> str | None:
        """The active bundle's id. Asked for every health check and STATUS= line (READY's among them) on the
        event loop: known from a check that found the bundle whole (`remember_manifest`), so a 20,000-file
        manifest is not parsed for it; parsed only when nothing is known of the manifest now on disk."""
        directory = self.active_dir()
        if directory is None:
            return None
        known = self._manifests.get(directory.name)
        if known is not None and known[0] == manifest_signature(directory):
            return known[1]
        manifest = self.active_manifest()
        return manifest.bundle_id if manifest is not None else None

    def remember_manifest(self, bundle_dir: Path, signature: list[int], bundle_id: str,
                          manifest: Manifest | None = None) -> None:
        """What a check (or a parse) found of `bundle_dir`'s manifest when its manifest.json had `signature`
        (`manifest_signature`): its id, and the manifest itself when it was parsed."""
        known = self._manifests.get(bundle_dir.name)
        if manifest is None and known is not None and known[0] == signature and known[1] == bundle_id:
            manifest = known[2]  # keep a parsed manifest that is still the one on disk
        self._manifests[bundle_dir.name] = (signature, bundle_id, manifest)

    def installed(self) -> list[Path]:
        if not self.bundles.is_dir():
            return []
        return sorted(p for p in self.bundles.iterdir() if p.is_dir() and not p.name.startswith("."))

    # --- install ----------------------------------------------------------------------------------------

    def new_bundle_dir_name(self, bundle_id: str) -> str:
        name = bundle_id
        n = 1
        while (self.bundles / name).exists():
            n += 1
            name = f"{bundle_id}~{n}"
        return name

    def install(self, files_dir: Path, manifest: Manifest) -> Path:
        """Install a complete, verified bundle whose files are in `files_dir` (same file system, e.g. under
        staging/), make it active and remove the old ones. Returns the installed directory."""
        with self.lock:
            return self._install(files_dir, manifest)

    def _install(self, files_dir: Path, manifest: Manifest) -> Path:
        self.ensure_layout()
        remove_stray_temps(files_dir, self.ops)  # an earlier attempt's, cut short
        atomic_write_bytes(files_dir / MANIFEST_NAME, manifest.to_bytes(), ops=self.ops)
        fsync_tree(files_dir, self.ops)
        name = self.new_bundle_dir_name(manifest.bundle_id)
        self.mark_writing(name)
        self._write_state(STATE_INSTALL, {"dir": name})
        move(files_dir, self.bundles / name, self.ops)
        swap_symlink(self.current, f"bundles/{name}", self.ops)
        self._clear_state(STATE_INSTALL)
        self.remove_old_bundles()
        log.info("content bundle %s active (%s)", manifest.bundle_id, name)
        return self.bundles / name

    def remove_old_bundles(self) -> None:
        with self.lock:
            self._remove_old_bundles()

    def _remove_old_bundles(self) -> None:
        active = self.active_dir()
        removed = False
        for bundle in self.installed():
            if active is not None and bundle.resolve() == active:
                continue
            if active is None:
                continue  # never delete the only content there is
            remove_tree(bundle, self.ops)
            self.forget_damage(bundle.name)
            self._manifests.pop(bundle.name, None)
            removed = True
        if removed:
            self.ops.fsync_dir(self.bundles)

    # --- state files ------------------------------------------------------------------------------------

    def _read_state(self, name: str, default: Any) -> Any:
        try:
            return json.loads((self.state / name).read_bytes())
        except (OSError, ValueError):
            return default

    def _write_state(self, name: str, value: Any) -> None:
        ensure_dir(self.state, self.ops)
        atomic_write_bytes(self.state / name, json.dumps(value).encode(), ops=self.ops)

    def _clear_state(self, name: str) -> None:
        try:
            self.ops.unlink(self.state / name)
        except FileNotFoundError:
            return
        self.ops.fsync_dir(self.state)

    def writing(self) -> set[str]:
        """Bundle directories written since their files were last verified (re-hashed after an unclean boot)."""
        value = self._read_state(STATE_WRITING, [])
        return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()

    def mark_writing(self, dir_name: str) -> None:
        self._write_state(STATE_WRITING, sorted(self.writing() | {dir_name}))

    def clear_writing(self, dir_names: set[str]) -> None:
        remaining = self.writing() - dir_names
        if remaining:
            self._write_state(STATE_WRITING, sorted(remaining))
        else:
            self._clear_state(STATE_WRITING)

    def damage(self) -> dict[str, list[str]]:
        """Files known missing (quarantined or lost) per bundle directory, awaiting a fresh download."""
        value = self._read_state(STATE_DAMAGED, {})
        if not isinstance(value, dict):
            return {}
        return {k: sorted(str(p) for p in v) for k, v in value.items() if isinstance(v, list)}

    def record_damage(self, dir_name: str, paths: list[str]) -> None:
        damage = self.damage()
        damage[dir_name] = sorted(set(damage.get(dir_name, [])) | set(paths))
        self._write_state(STATE_DAMAGED, damage)

    def forget_damage(self, dir_name: str) -> None:
        damage = self.damage()
        if dir_name in damage:
            del damage[dir_name]
            if damage:
                self._write_state(STATE_DAMAGED, damage)
            else:
                self._clear_state(STATE_DAMAGED)

    def quarantine_file(self, bundle_dir: Path, rel: str) -> Path:
        """Move a bad file out of its bundle; returns where it went (`quarantine/<serial>-<bundle dir>/<rel>`)."""
        if self._next_serial is None:  # listed once: a mass corruption quarantines thousands of files
            entries = self.quarantined()
            self._next_serial = entries[-1][0] + 1 if entries else 0
        while True:  # another process (`appliance fsck --repair`) may have taken a serial meanwhile
            serial, self._next_serial = self._next_serial, self._next_serial + 1
            entry = self.quarantine / f"{serial:06d}-{bundle_dir.name}"
            if not self.ops.exists(entry):
                break
        dest = entry / rel
        move(bundle_dir / rel, dest, self.ops)
        return dest

    def quarantined(self) -> list[tuple[int, Path]]:
        """The quarantine's entries by serial, oldest first (a serial, not a time: the clock may be wrong)."""
        try:
            names = self.ops.listdir(self.quarantine)
        except OSError:
            return []
        entries = []
        for name in names:
            serial, dash, _ = name.partition("-")
            if dash and serial.isdigit():
                entries.append((int(serial), self.quarantine / name))
        return sorted(entries)

    def prune_quarantine(self, keep: int) -> int:
        """Remove all but the newest `keep` quarantine entries (evidence for engineers, not worth a full disk);
        the number removed."""
        with self.lock:
            entries = self.quarantined()
            doomed = entries[: max(len(entries) - keep, 0)]
            for _, path in doomed:
                remove_tree(path, self.ops)
            if doomed:
                self.ops.fsync_dir(self.quarantine)
                log.info("content quarantine: %d old entr%s removed", len(doomed), "y" if len(doomed) == 1 else "ies")
            return len(doomed)
