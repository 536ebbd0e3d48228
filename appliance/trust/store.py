"""The aircraft's trusted-metadata directory: generations swapped in whole.

    <dir>/current -> gen-N      the metadata in use (a symlink, swapped atomically)
    <dir>/gen-N/                root_history/K.root.json, timestamp.json, snapshot.json, targets.json

python-tuf's Updater writes its metadata with a temp file and os.replace but never fsyncs, and it replaces
root.json by unlink + symlink (a moment with none). So the Updater never writes to the directory in use:
each refresh runs in a new generation seeded with a copy of the current one (its rollback protection), and
only when the whole refresh verified is the generation fsynced (every file, then the directories) and
`current` swapped to it. A kill or a power cut at any moment leaves `current` at the last good generation,
complete and durable; a half-written generation is never used and is removed at the next start.
The Updater's own root.json symlink is never trusted: every Updater is bootstrapped from the pinned root and
walks root_history/ from it, verifying each rotation again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from appliance.fs.durable import fsync_dir, remove_tree, swap_symlink
from appliance.fs.fileops import REAL_OPS, FileOps

CURRENT = "current"
GEN_PREFIX = "gen-"
COPIED = ("timestamp.json", "snapshot.json", "targets.json")


class GenerationStore:
    def __init__(self, directory: Path, ops: FileOps = REAL_OPS) -> None:
        self.dir = directory
        self.ops = ops

    def current(self) -> Path | None:
        link = self.dir / CURRENT
        try:
            target = os.readlink(link)
        except OSError:
            return None
        path = self.dir / target
        return path if path.is_dir() else None

    def _number(self, name: str) -> int:
        suffix = name[len(GEN_PREFIX):]
        return int(suffix) if name.startswith(GEN_PREFIX) and suffix.isdigit() else -1

    def clean(self) -> list[str]:
        """Remove every generation but the current one (left by a killed or failed refresh)."""
        current = self.current()
        removed: list[str] = []
        if not self.dir.is_dir():
            return removed
        for entry in os.listdir(self.dir):
            path = self.dir / entry
            if entry == CURRENT or (current is not None and path == current):
                continue
            if self._number(entry) >= 0 or entry.startswith("."):
                if path.is_dir() and not path.is_symlink():
                    remove_tree(path, self.ops)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
                removed.append(entry)
        if removed:
            with contextlib.suppress(OSError):
                fsync_dir(self.dir, self.ops)
        return removed

    def begin(self) -> Path:
        """A new generation directory seeded with a copy of the current one's metadata."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.clean()
        numbers = [self._number(name) for name in os.listdir(self.dir)]
        gen = self.dir / f"{GEN_PREFIX}{max([0, *numbers]) + 1}"
        gen.mkdir()
        current = self.current()
        if current is not None:
            for name in COPIED:
                if (current / name).is_file():
                    shutil.copyfile(current / name, gen / name)
            history = current / "root_history"
            if history.is_dir():
                shutil.copytree(history, gen / "root_history")
        return gen

    def commit(self, gen: Path) -> None:
        """Make `gen` durable (files, then directories), then swap `current` to it and drop the old one.
        Raises OSError (a failed fsync is final: `current` stays where it was)."""
        old = self.current()
        for directory in (gen / "root_history", gen):
            if not directory.is_dir():
                continue
            for entry in os.scandir(directory):
                if entry.is_file(follow_symlinks=False):
                    fd = self.ops.open(Path(entry.path), os.O_RDONLY)
                    try:
                        self.ops.fsync(fd)
                    finally:
                        self.ops.close(fd)
            self.ops.fsync_dir(directory)
        fsync_dir(self.dir, self.ops)
        swap_symlink(self.dir / CURRENT, gen.name, self.ops)
        if old is not None and old != gen:
            remove_tree(old, self.ops)

    def abort(self, gen: Path) -> None:
        remove_tree(gen, self.ops)
