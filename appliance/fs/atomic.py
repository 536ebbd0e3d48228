"""The one helper for every small file the daemon replaces: temp file in the same directory, fsync, rename,
fsync the directory. Readers see the old file or the new one, never a mix. A failed fsync raises: the write
failed, and is never retried and assumed good.

Every operation goes through `appliance.fs.fileops` (pass `ops=` to record or inject faults).
`read_state_file` is the matching reader: it ignores stray temp files a crash left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from pathlib import Path

from appliance.fs.fileops import REAL_OPS, FileOps

_counter = itertools.count()
_counter_lock = threading.Lock()


def fsync_dir(path: Path, ops: FileOps = REAL_OPS) -> None:
    """Make a create, rename or unlink in `path` durable."""
    ops.fsync_dir(path)


def temp_name(path: Path) -> Path:
    """A temp file beside `path`, unique per process and call (two threads never share one)."""
    with _counter_lock:
        n = next(_counter)
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{n}"


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and ".tmp-" in name


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644, *, ops: FileOps = REAL_OPS) -> None:
    """Replace `path` with `data` atomically and durably. Raises OSError (nothing replaced) on failure."""
    directory = path.parent
    tmp = temp_name(path)
    fd = ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        ops.pwrite(fd, data, 0)
        ops.fsync(fd)
    except BaseException:
        ops.close(fd)
        _unlink_quietly(tmp, ops)
        raise
    ops.close(fd)
    try:
        ops.rename(tmp, path)
    except BaseException:
        _unlink_quietly(tmp, ops)
        raise
    ops.fsync_dir(directory)


def atomic_write_text(path: Path, text: str, mode: int = 0o644, *, ops: FileOps = REAL_OPS) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode, ops=ops)


def read_state_file(path: Path, ops: FileOps = REAL_OPS) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    if not ops.exists(path):
        return None
    return ops.read_bytes(path)


def remove_stray_temps(directory: Path, ops: FileOps = REAL_OPS) -> list[str]:
    """Delete temp files an interrupted atomic write left in `directory`; returns their names."""
    removed = [name for name in ops.listdir(directory) if is_temp_name(name)]
    for name in removed:
        _unlink_quietly(directory / name, ops)
    if removed:
        with contextlib.suppress(OSError):
            ops.fsync_dir(directory)
    return removed


def _unlink_quietly(path: Path, ops: FileOps) -> None:
    with contextlib.suppress(OSError):
        ops.unlink(path)
