"""The durable file operations the content store needs, in one place (so a crash-testing layer can record
them): fsync a file, a directory, a whole tree, swap a symlink atomically, move a file."""

from __future__ import annotations

import os
from pathlib import Path

from appliance.storage.atomic import atomic_write_bytes, fsync_dir

__all__ = ["atomic_write_bytes", "fsync_dir", "fsync_file", "fsync_tree", "move", "swap_symlink"]


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under `root` (files first, then directories bottom-up)."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
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
