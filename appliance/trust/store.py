"""The aircraft's trusted-metadata directory: generations swapped in whole.

    <dir>/current -> gen-N      the metadata in use (a symlink, swapped atomically)
    <dir>/gen-N/                root_history/K.root.json, timestamp.json, snapshot.json, targets.json,
                                root.json -> root_history/K.root.json (python-tuf's layout; never read here)

Every write and every read of the trusted metadata goes through appliance.fs.fileops (the store's `ops`), the
Updater's own included (appliance.trust.updater routes python-tuf's persistence hooks here), so the crash-state
harness (tests/storage_crashfs.py) sees every byte and rebuilds every state a power cut could leave.

The Updater never writes to the directory in use: each refresh runs in a new generation seeded with a copy of
the current one (its rollback protection). Files written into it are not fsynced one by one: the generation is
not in use, so a cut mid-refresh loses nothing trusted. Only when the whole refresh verified is the generation
made durable (every file fsynced, then its directories, then the store's directory), and only then is
`current` swapped to it (a new symlink renamed over it, the directory fsynced: the refresh is acknowledged
after that). A kill or a power cut at any moment leaves `current` at the last good generation or at the new
one, complete and durable either way; a half-written generation is never used and is removed at the next
refresh. Every Updater is bootstrapped from the pinned root and walks root_history/ from it, verifying each
rotation again; the root.json symlink is never trusted.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from appliance.fs.atomic import temp_name
from appliance.fs.durable import remove_tree, swap_symlink
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir

CURRENT = "current"
GEN_PREFIX = "gen-"
HISTORY = "root_history"
COPIED = ("timestamp.json", "snapshot.json", "targets.json")


class GenerationStore:
    def __init__(self, directory: Path, ops: FileOps = REAL_OPS) -> None:
        self.dir = directory
        self.ops = ops

    # --- reads (through ops: the next boot's view of a crash state is read the same way) --------------------

    def current(self) -> Path | None:
        try:
            target = self.ops.readlink(self.dir / CURRENT)
        except OSError:
            return None
        path = self.dir / target
        return path if target.startswith(GEN_PREFIX) and self.ops.exists(path) else None

    def read(self, gen: Path, name: str) -> bytes | None:
        """The bytes of `name` (e.g. "timestamp.json", "root_history/2.root.json") in `gen`, None if absent."""
        path = gen / name
        return self.ops.read_bytes(path) if self.ops.exists(path) else None

    def history(self, gen: Path) -> list[str]:
        """The root versions kept in `gen`'s root_history/, as file names, in version order."""
        if not self.ops.exists(gen / HISTORY):
            return []
        names = [n for n in self.ops.listdir(gen / HISTORY) if n.endswith(".root.json") and n.split(".")[0].isdigit()]
        return sorted(names, key=lambda n: int(n.split(".")[0]))

    def _number(self, name: str) -> int:
        suffix = name[len(GEN_PREFIX):]
        return int(suffix) if name.startswith(GEN_PREFIX) and suffix.isdigit() else -1

    # --- writes ----------------------------------------------------------------------------------------------

    def write(self, path: Path, data: bytes) -> None:
        """Replace `path` (inside a generation not in use) with `data`: a temp file renamed over it. Not
        durable until `commit` fsyncs the generation."""
        tmp = temp_name(path)
        fd = self.ops.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            self.ops.pwrite(fd, data, 0)
        except BaseException:
            self.ops.close(fd)
            with contextlib.suppress(OSError):
                self.ops.unlink(tmp)
            raise
        self.ops.close(fd)
        self.ops.rename(tmp, path)

    def link(self, path: Path, target: str) -> None:
        """Point the symlink `path` at `target` (a new link renamed over it; durable at `commit`)."""
        tmp = temp_name(path)
        self.ops.symlink(target, tmp)
        self.ops.rename(tmp, path)

    def clean(self) -> list[str]:
        """Remove every generation but the current one (left by a killed or failed refresh or a power cut)."""
        current = self.current()
        removed: list[str] = []
        if not self.ops.exists(self.dir):
            return removed
        for entry in self.ops.listdir(self.dir):
            path = self.dir / entry
            if entry == CURRENT or (current is not None and path == current):
                continue
            if self._number(entry) >= 0 or entry.startswith("."):
                if path.is_dir() and not path.is_symlink():
                    remove_tree(path, self.ops)
                else:
                    with contextlib.suppress(OSError):
                        self.ops.unlink(path)
                removed.append(entry)
        if removed:
            with contextlib.suppress(OSError):
                self.ops.fsync_dir(self.dir)
        return removed

    def begin(self) -> Path:
        """A new generation directory seeded with a copy of the current one's metadata."""
        ensure_dir(self.dir, self.ops)
        self.clean()
        numbers = [self._number(name) for name in self.ops.listdir(self.dir)]
        gen = self.dir / f"{GEN_PREFIX}{max([0, *numbers]) + 1}"
        self.ops.mkdir(gen)
        current = self.current()
        if current is not None:
            for name in COPIED:
                data = self.read(current, name)
                if data is not None:
                    self.write(gen / name, data)
            names = self.history(current)
            if names:
                self.ops.mkdir(gen / HISTORY)
            for name in names:
                self.write(gen / HISTORY / name, self.ops.read_bytes(current / HISTORY / name))
        return gen

    def commit(self, gen: Path) -> None:
        """Make `gen` durable (files, then directories), then swap `current` to it and drop the old one.
        Raises OSError (a failed fsync is final: `current` stays where it was)."""
        old = self.current()
        for directory in (gen / HISTORY, gen):
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
        self.ops.fsync_dir(self.dir)
        swap_symlink(self.dir / CURRENT, gen.name, self.ops)
        if old is not None and old != gen:
            remove_tree(old, self.ops)

    def abort(self, gen: Path) -> None:
        remove_tree(gen, self.ops)
