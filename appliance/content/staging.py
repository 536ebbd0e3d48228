"""A bundle being downloaded: its manifest, its files (written at chunk offsets) and a progress log.

The log is append-only, one JSON line per step `[path, chunk, bytes_done]`, written only after the data it
describes was fsynced, and fsynced itself. `bytes_done == chunk length` means the chunk was verified against
its hash. A torn last line (a power cut mid-append) is ignored: at most that step is done again.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from appliance.content.manifest import MANIFEST_NAME, FileEntry, Manifest, ManifestError, parse_manifest
from appliance.fs.durable import REAL_OPS, FileOps, atomic_write_bytes, remove_tree

LOG_NAME = "progress.log"

ChunkKey = tuple[str, int]


class Staging:
    def __init__(self, directory: Path, manifest: Manifest, ops: FileOps = REAL_OPS) -> None:
        self.ops = ops
        self.dir = directory
        self.files = directory / "files"
        self.manifest = manifest
        self.done: dict[ChunkKey, int] = {}
        self._log_fd: int | None = None
        self._log_size = 0
        self._log_lock = threading.Lock()  # workers record from threads: one append at a time

    @classmethod
    def open(cls, staging_root: Path, manifest: Manifest, manifest_bytes: bytes, ops: FileOps = REAL_OPS) -> Staging:
        """Resume the staging of this exact manifest, or start it afresh. Other staged bundles stay until
        `drop_others` (the sync first copies what it can use from them)."""
        if not staging_root.is_dir():
            ops.mkdir(staging_root)
        directory = staging_root / manifest.bundle_id
        saved = directory / MANIFEST_NAME
        if directory.exists():
            try:
                same = saved.read_bytes() == manifest_bytes
            except OSError:
                same = False
            if not same:
                _remove(directory, ops)
        if not directory.exists():
            ops.mkdir(directory / "files")
            ops.fsync_dir(directory)
            ops.fsync_dir(staging_root)
            atomic_write_bytes(saved, manifest_bytes, ops=ops)
        staging = cls(directory, manifest, ops)
        staging._load_log()
        return staging

    @classmethod
    def others(cls, staging_root: Path, keep: Path) -> list[Staging]:
        """Earlier, unfinished downloads of other bundles (read only: their completed chunks are sources)."""
        found: list[Staging] = []
        if not staging_root.is_dir():
            return found
        for directory in sorted(staging_root.iterdir()):
            if directory == keep or not directory.is_dir():
                continue
            try:
                manifest = parse_manifest((directory / MANIFEST_NAME).read_bytes())
            except (OSError, ManifestError):
                continue
            staging = cls(directory, manifest)
            staging._load_log()
            found.append(staging)
        return found

    def drop_others(self) -> None:
        """Remove every other staged bundle (once this one has taken what it could from them)."""
        for other in self.dir.parent.iterdir():
            if other != self.dir:
                _remove(other, self.ops)

    def completed_chunks(self) -> list[tuple[str, Path, int, int]]:
        """(hash, file, offset, length) of every chunk logged complete."""
        chunk_size = self.manifest.chunk_size
        result: list[tuple[str, Path, int, int]] = []
        for entry in self.manifest.files:
            for index, digest in enumerate(entry.chunks):
                if self.is_complete(entry, index):
                    offset, length = entry.chunk_range(index, chunk_size)
                    result.append((digest, self.files / entry.path, offset, length))
        return result

    def _load_log(self) -> None:
        try:
            data = (self.dir / LOG_NAME).read_bytes()
        except FileNotFoundError:
            data = b""
        entries = self.manifest.by_path()
        for line in data.split(b"\n"):
            try:
                path, index, done = json.loads(line)
            except (ValueError, TypeError):
                continue  # the torn tail, or garbage: that step is redone
            entry = entries.get(path)
            if entry is None or not isinstance(index, int) or not isinstance(done, int):
                continue
            if 0 <= index < len(entry.chunks):
                self.done[(path, index)] = done
        # A chunk counts only if its file is still there at the right size (files are created full size).
        for key in list(self.done):
            target = self.files / key[0]
            if not target.is_file() or target.stat().st_size != entries[key[0]].size:
                del self.done[key]

    def chunk_length(self, entry: FileEntry, index: int) -> int:
        return entry.chunk_range(index, self.manifest.chunk_size)[1]

    def is_complete(self, entry: FileEntry, index: int) -> bool:
        return self.done.get((entry.path, index), 0) >= self.chunk_length(entry, index)

    def bytes_done(self, entry: FileEntry, index: int) -> int:
        return min(self.done.get((entry.path, index), 0), self.chunk_length(entry, index))

    def prepare_file(self, entry: FileEntry) -> Path:
        """The staged file, created at its full size (sparse) so chunks land at their offsets."""
        target = self.files / entry.path
        if not target.is_file() or target.stat().st_size != entry.size:
            if not target.parent.is_dir():
                self.ops.mkdir(target.parent)
                self.ops.fsync_dir(target.parent.parent)  # (parents above are fsynced by install's tree sync)
            fd = self.ops.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            try:
                self.ops.truncate(fd, entry.size)
                self.ops.fsync(fd)
            finally:
                self.ops.close(fd)
            self.ops.fsync_dir(target.parent)
            for index in range(len(entry.chunks)):
                self.done.pop((entry.path, index), None)
        return target

    def record(self, steps: list[tuple[str, int, int]]) -> None:
        """Append steps whose data is already durable, then fsync the log."""
        if not steps:
            return
        with self._log_lock:
            self._append(steps)

    def _append(self, steps: list[tuple[str, int, int]]) -> None:
        if self._log_fd is None:
            created = not (self.dir / LOG_NAME).exists()
            self._log_fd = self.ops.open(self.dir / LOG_NAME, os.O_WRONLY | os.O_CREAT, 0o644)
            self._log_size = self.ops.size(self._log_fd)
            if created:
                self.ops.fsync_dir(self.dir)
        data = b"".join(json.dumps([p, i, n]).encode() + b"\n" for p, i, n in steps)
        # A torn previous tail would swallow this line's start: begin with a newline to keep lines apart.
        self.ops.pwrite(self._log_fd, b"\n" + data, self._log_size)
        self._log_size += len(data) + 1
        self.ops.fsync(self._log_fd)
        for path, index, done in steps:
            self.done[(path, index)] = done

    def close(self) -> None:
        if self._log_fd is not None:
            self.ops.close(self._log_fd)
            self._log_fd = None

    def remove(self) -> None:
        self.close()
        _remove(self.dir, self.ops)


def _remove(path: Path, ops: FileOps) -> None:
    if path.is_dir() and not path.is_symlink():
        remove_tree(path, ops)
    elif path.exists() or path.is_symlink():
        ops.unlink(path)
    ops.fsync_dir(path.parent)
