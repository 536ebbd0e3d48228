"""The durable file operations the content store and the trusted metadata need, all through appliance.fs.fileops (so the
crash tests can record them or fail the Nth one): fsync a file, a directory, a whole tree, swap a symlink
atomically, move a file, remove a tree, write at an offset durably. Listing a tree (a read) uses `os`
directly: the crash tests record a workload on a real directory."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
from pathlib import Path

from appliance.fs.atomic import atomic_write_bytes
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir

__all__ = [
    "REAL_OPS",
    "FileOps",
    "atomic_write_bytes",
    "fsync_dir",
    "fsync_file",
    "fsync_tree",
    "move",
    "remove_tree",
    "swap_symlink",
    "syncfs",
    "write_durable",
]

SYNCFS_THRESHOLD = 64  # above this many files one syncfs(2) is cheaper than an fsync each

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def fsync_dir(path: Path, ops: FileOps = REAL_OPS) -> None:
    ops.fsync_dir(path)


def fsync_file(path: Path, ops: FileOps = REAL_OPS) -> None:
    fd = ops.open(path, os.O_RDONLY)
    try:
        ops.fsync(fd)
    finally:
        ops.close(fd)


def syncfs(path: Path) -> None:
    """Make everything written to the file system holding `path` durable (syncfs(2); since Linux 5.8 it
    reports writeback errors, which raise here like a failed fsync)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.syncfs(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)


def fsync_tree(root: Path, ops: FileOps = REAL_OPS) -> None:
    """Make every file and directory under `root` durable: an fsync each (files first, then directories
    bottom-up), or one syncfs(2) for a large tree on the real file system."""
    walked = list(os.walk(root, topdown=False))
    if type(ops) is FileOps and sum(len(names) for _, _, names in walked) > SYNCFS_THRESHOLD:
        syncfs(root)
        return
    for dirpath, _dirnames, filenames in walked:
        for name in filenames:
            fsync_file(Path(dirpath, name), ops)
        ops.fsync_dir(Path(dirpath))


def swap_symlink(link: Path, target: str, ops: FileOps = REAL_OPS) -> None:
    """Point `link` at `target` atomically: a new symlink beside it, renamed over it, the directory fsynced.
    Readers resolve the old target or the new one, never nothing."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    if os.path.lexists(tmp):
        ops.unlink(tmp)
    ops.symlink(target, tmp)
    ops.rename(tmp, link)
    ops.fsync_dir(link.parent)


def move(src: Path, dest: Path, ops: FileOps = REAL_OPS) -> None:
    """Rename `src` to `dest` (same file system) and fsync both directories (a missing destination directory is
    created durably: each new directory's parent is fsynced too)."""
    ensure_dir(dest.parent, ops)
    ops.rename(src, dest)
    ops.fsync_dir(dest.parent)
    if src.parent != dest.parent:
        ops.fsync_dir(src.parent)


def remove_tree(path: Path, ops: FileOps = REAL_OPS) -> None:
    """Delete the directory `path` and everything in it (files and symlinks unlinked, directories removed
    bottom-up), errors ignored like shutil.rmtree(ignore_errors=True): what is left, a later call removes. A
    symlink is never followed. The removal is durable once the caller fsyncs `path`'s parent."""
    if os.path.islink(path):
        return
    try:
        with os.scandir(path) as scan:
            entries = [(Path(entry.path), entry.is_dir(follow_symlinks=False)) for entry in scan]
    except OSError:
        entries = []
    for child, is_dir in entries:
        if is_dir:
            remove_tree(child, ops)
        else:
            with contextlib.suppress(OSError):
                ops.unlink(child)
    with contextlib.suppress(OSError):
        ops.rmdir(path)


def write_durable(target: Path, offset: int, data: bytes, ops: FileOps = REAL_OPS) -> None:
    """Write `data` at `offset` of an existing file and fsync it."""
    fd = ops.open(target, os.O_WRONLY)
    try:
        ops.pwrite(fd, data, offset)
        ops.fsync(fd)
    finally:
        ops.close(fd)
