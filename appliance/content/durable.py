"""The durable file operations the content store needs, in one place (so a crash-testing layer can record
them): fsync a file, a directory, a whole tree, swap a symlink atomically, move a file."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

from appliance.storage.atomic import atomic_write_bytes, fsync_dir

__all__ = ["atomic_write_bytes", "fsync_dir", "fsync_file", "fsync_tree", "move", "swap_symlink", "syncfs"]


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SYNCFS_THRESHOLD = 64  # above this many files one syncfs(2) is cheaper than an fsync each

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


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


def fsync_tree(root: Path) -> None:
    """Make every file and directory under `root` durable: an fsync each (files first, then directories
    bottom-up), or one syncfs(2) for a large tree."""
    walked = list(os.walk(root, topdown=False))
    if sum(len(filenames) for _, _, filenames in walked) > SYNCFS_THRESHOLD:
        syncfs(root)
        return
    for dirpath, _dirnames, filenames in walked:
        for name in filenames:
            fsync_file(Path(dirpath, name))
        fsync_dir(Path(dirpath))


def swap_symlink(link: Path, target: str) -> None:
    """Point `link` at `target` atomically: a new symlink beside it, renamed over it, the directory fsynced.
    Readers resolve the old target or the new one, never nothing."""
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def move(src: Path, dest: Path) -> None:
    """Rename `src` to `dest` (same file system) and fsync both directories."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    fsync_dir(dest.parent)
    if src.parent != dest.parent:
        fsync_dir(src.parent)
