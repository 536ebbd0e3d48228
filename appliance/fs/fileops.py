"""The file-operation layer every durable write goes through.

The journal, the snapshot, the atomic state files (appliance.fs.atomic) and the content store's install
call these methods instead of `os.*`, so that

- the crash-state harness (tests/storage_crashfs.py) can record every operation and rebuild every state a
  power cut could leave on disk, and recover each one in memory;
- the I/O-error tests can fail the Nth write or fsync with EIO or ENOSPC.

Writes are positional (`pwrite` with an explicit offset), so a recording knows exactly which bytes changed.
Reads (`read_bytes`, `listdir`, `exists`, `readlink`, `size`) are here too so recovery can run against a rebuilt state.

Usage (e.g. a content install)::

    from appliance.fs.fileops import REAL_OPS as ops
    fd = ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        ops.pwrite(fd, data, 0)
        ops.fsync(fd)          # raises OSError: the write failed, never retry and assume it good
    finally:
        ops.close(fd)
    ops.rename(tmp, final)
    ops.fsync_dir(final.parent)
"""

from __future__ import annotations

import os
from pathlib import Path


class FileOps:
    """Real file operations (thin wrappers over `os`). Subclass to record or to inject faults."""

    # --- writes --------------------------------------------------------------------------------------------

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags, mode)

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        """Write all of `data` at `offset` (loops over short writes)."""
        view = memoryview(data)
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        """Make the file's data and size durable (not its timestamps): enough for an appended record, and one
        journal commit cheaper than `fsync` on most file systems. Raises OSError as `fsync` does (never retry).
        A subclass that overrides only `fsync` (to record or to fail it) sees this call as an `fsync`."""
        if type(self).fsync is FileOps.fsync:
            os.fdatasync(fd)
        else:
            self.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: Path, dst: Path) -> None:
        """Atomic replace of `dst` (os.replace). Durable only after `fsync_dir` of the directory."""
        os.replace(src, dst)

    def unlink(self, path: Path) -> None:
        """Remove a file or a symlink. Durable only after `fsync_dir` of the directory."""
        os.unlink(path)

    def symlink(self, target: str, path: Path) -> None:
        """Create the symlink `path` -> `target`: a directory entry, durable only after `fsync_dir`."""
        os.symlink(target, path)

    def rmdir(self, path: Path) -> None:
        """Remove an empty directory. Durable only after `fsync_dir` of its parent."""
        os.rmdir(path)

    def mkdir(self, path: Path) -> None:
        """Create `path` and its missing parents (durable once the parents are fsynced: see `ensure_dir`)."""
        os.makedirs(path, exist_ok=True)

    def fsync_dir(self, path: Path) -> None:
        """Make a create, rename or unlink in `path` durable."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Flush every file system (os.sync)."""
        os.sync()

    # --- reads ---------------------------------------------------------------------------------------------

    def read_bytes(self, path: Path) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def listdir(self, path: Path) -> list[str]:
        return sorted(os.listdir(path))

    def exists(self, path: Path) -> bool:
        return os.path.exists(path)

    def readlink(self, path: Path) -> str:
        return os.readlink(path)

    def size(self, fd: int) -> int:
        return os.fstat(fd).st_size


REAL_OPS = FileOps()


def ensure_dir(path: Path, ops: FileOps = REAL_OPS) -> None:
    """Create `path` (with parents) durably: each new directory's parent is fsynced."""
    missing: list[Path] = []
    current = path
    while not ops.exists(current):
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if not missing:
        return
    ops.mkdir(path)
    for created in reversed(missing):
        ops.fsync_dir(created.parent)
