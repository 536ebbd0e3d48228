"""An ALICE-style crash-state toolkit for the storage tests.

`RecordingOps` runs a workload on a real directory through appliance.fs.fileops and records every file
operation (plus the workload's own marks, e.g. "record X acknowledged"). `crash_states` then rebuilds, in
memory, every state a power cut could leave, under this file-system model:

- file data (writes, truncates) reaches the disk only at that file's fsync; before it, any unsynced write may
  be lost, and the last one may be torn at a 512-byte sector boundary (the start or the end persisted), filled
  with garbage, or left as zeros (size grown, data not written);
- directory operations (mkdir, create, symlink, rename, unlink, rmdir) persist in order, as an ext4 journal
  commits them, and all of them are durable after an fsync of a directory. A symlink is such a directory entry
  (its target is stored with it); renaming a directory moves everything under it.

`MemOps` is a FileOps over such an in-memory state, so recovery runs on each state without touching a disk.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.fs.fileops import REAL_OPS, FileOps

SECTOR = 512
DIR = -1  # a directory entry that is a directory


class RecordingOps(FileOps):
    """File operations on `root` (real ones, or `inner`'s), recorded as a log of tuples with paths relative to
    `root`. `existing` names the files already there (path -> inode numbers are given to them in order)."""

    def __init__(self, root: Path, inner: FileOps = REAL_OPS, existing: list[str] | None = None) -> None:
        self.root = root
        self.inner = inner
        self.log: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._fds: dict[int, int] = {}  # fd -> inode number
        self._names: dict[str, int] = {}  # path -> inode number (the live view)
        self._next_ino = 1
        for name in existing or []:
            self._names[name] = self._next_ino
            self._next_ino += 1

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.root)

    def mark(self, *what: Any) -> None:
        with self._lock:
            self.log.append(("mark", *what))

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        with self._lock:
            fd = self.inner.open(path, flags, mode)
            rel = self._rel(path)
            if rel not in self._names:
                self._names[rel] = self._next_ino
                self.log.append(("create", rel, self._next_ino))
                self._next_ino += 1
            elif flags & os.O_TRUNC:
                self.log.append(("trunc", self._names[rel], 0))
            self._fds[fd] = self._names[rel]
            return fd

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        with self._lock:
            self.inner.pwrite(fd, data, offset)
            self.log.append(("write", self._fds[fd], offset, bytes(data)))

    def fsync(self, fd: int) -> None:
        with self._lock:
            self.inner.fsync(fd)
            self.log.append(("fsync", self._fds[fd]))

    def truncate(self, fd: int, size: int) -> None:
        with self._lock:
            self.inner.truncate(fd, size)
            self.log.append(("trunc", self._fds[fd], size))

    def close(self, fd: int) -> None:
        with self._lock:
            self.inner.close(fd)
            self._fds.pop(fd, None)

    def rename(self, src: Path, dst: Path) -> None:
        with self._lock:
            self.inner.rename(src, dst)
            s, d = self._rel(src), self._rel(dst)
            if s in self._names:
                self._names[d] = self._names.pop(s)
            _move_under(self._names, s, d)  # a directory: what is under it moves too
            self.log.append(("rename", s, d))

    def unlink(self, path: Path) -> None:
        with self._lock:
            self.inner.unlink(path)
            rel = self._rel(path)
            self._names.pop(rel, None)
            self.log.append(("unlink", rel))

    def symlink(self, target: str, path: Path) -> None:
        with self._lock:
            self.inner.symlink(target, path)
            rel = self._rel(path)
            self._names[rel] = self._next_ino
            self.log.append(("symlink", rel, self._next_ino, target))
            self._next_ino += 1

    def rmdir(self, path: Path) -> None:
        with self._lock:
            self.inner.rmdir(path)
            self.log.append(("rmdir", self._rel(path)))

    def mkdir(self, path: Path) -> None:
        with self._lock:
            missing = []
            current = path
            while not self.inner.exists(current):
                missing.append(current)
                current = current.parent
            self.inner.mkdir(path)
            for created in reversed(missing):
                self.log.append(("mkdir", self._rel(created)))

    def fsync_dir(self, path: Path) -> None:
        with self._lock:
            self.inner.fsync_dir(path)
            self.log.append(("fsync_dir", self._rel(path)))

    def sync(self) -> None:
        with self._lock:
            self.inner.sync()
            self.log.append(("sync",))

    def read_bytes(self, path: Path) -> bytes:
        return self.inner.read_bytes(path)

    def listdir(self, path: Path) -> list[str]:
        return self.inner.listdir(path)

    def exists(self, path: Path) -> bool:
        return self.inner.exists(path)

    def readlink(self, path: Path) -> str:
        return self.inner.readlink(path)


class MemOps(FileOps):
    """FileOps over an in-memory file tree (`files`: relative path -> bytes; `dirs`: relative dir paths;
    `links`: relative symlink path -> its target)."""

    def __init__(self, root: Path, files: dict[str, bytes], dirs: set[str],
                 links: dict[str, str] | None = None) -> None:
        self.root = root
        self._prefix = str(root) + os.sep
        self.files: dict[str, bytes | bytearray] = dict(files)  # copied on first write
        self.dirs = set(dirs) | {"."}
        self.links = dict(links or {})
        self._fds: dict[int, str] = {}
        self._next_fd = 1000

    def _rel(self, path: Path) -> str:
        text = str(path)
        return text[len(self._prefix) :] if text.startswith(self._prefix) else os.path.relpath(path, self.root)

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        rel = self._rel(path)
        if rel not in self.files:
            if not flags & os.O_CREAT:
                raise FileNotFoundError(rel)
            self.files[rel] = bytearray()
        elif flags & os.O_EXCL:
            raise FileExistsError(rel)
        elif flags & os.O_TRUNC:
            self.files[rel] = bytearray()
        self._next_fd += 1
        self._fds[self._next_fd] = rel
        return self._next_fd

    def _writable(self, fd: int) -> bytearray:
        rel = self._fds[fd]
        content = self.files[rel]
        if not isinstance(content, bytearray):
            content = self.files[rel] = bytearray(content)
        return content

    def pwrite(self, fd: int, data: bytes, offset: int) -> None:
        _put(self._writable(fd), offset, data)

    def fsync(self, fd: int) -> None:
        pass

    def truncate(self, fd: int, size: int) -> None:
        _truncate(self._writable(fd), size)

    def close(self, fd: int) -> None:
        self._fds.pop(fd)

    def rename(self, src: Path, dst: Path) -> None:
        s, d = self._rel(src), self._rel(dst)
        if s in self.dirs:
            self.dirs = {d + p[len(s) :] if p == s or p.startswith(s + "/") else p for p in self.dirs}
            _move_under(self.files, s, d)
            _move_under(self.links, s, d)
        elif s in self.links:
            self.files.pop(d, None)
            self.links[d] = self.links.pop(s)
        else:
            self.links.pop(d, None)
            self.files[d] = self.files.pop(s)

    def unlink(self, path: Path) -> None:
        rel = self._rel(path)
        if rel in self.links:
            del self.links[rel]
        else:
            del self.files[rel]

    def symlink(self, target: str, path: Path) -> None:
        rel = self._rel(path)
        if rel in self.files or rel in self.links or rel in self.dirs:
            raise FileExistsError(rel)
        self.links[rel] = target

    def rmdir(self, path: Path) -> None:
        rel = self._rel(path)
        if rel not in self.dirs:
            raise FileNotFoundError(rel)
        if self.listdir(path):
            raise OSError(39, "Directory not empty", rel)
        self.dirs.discard(rel)

    def readlink(self, path: Path) -> str:
        rel = self._rel(path)
        if rel not in self.links:
            raise FileNotFoundError(rel) if not self.exists(path) else OSError(22, "Invalid argument", rel)
        return self.links[rel]

    def mkdir(self, path: Path) -> None:
        rel = Path(self._rel(path))
        for part in [rel, *rel.parents]:
            self.dirs.add(str(part))

    def fsync_dir(self, path: Path) -> None:
        if self._rel(path) not in self.dirs:
            raise FileNotFoundError(path)

    def sync(self) -> None:
        pass

    def read_bytes(self, path: Path) -> bytes:
        rel = self._rel(path)
        if rel not in self.files:
            raise FileNotFoundError(rel)
        return bytes(self.files[rel])

    def listdir(self, path: Path) -> list[str]:
        rel = self._rel(path)
        names = {p for p in [*self.files, *self.links] if os.path.dirname(p) == ("" if rel == "." else rel)}
        names |= {d for d in self.dirs if d != "." and os.path.dirname(d) == ("" if rel == "." else rel)}
        return sorted(os.path.basename(n) for n in names)

    def exists(self, path: Path) -> bool:
        """Like os.path.exists: a symlink exists when what it points at does."""
        rel = self._rel(path)
        if rel in self.links:
            return self.exists(Path(os.path.normpath(self.root / os.path.dirname(rel) / self.links[rel])))
        return rel in self.files or rel in self.dirs

    def size(self, fd: int) -> int:
        return len(self.files[self._fds[fd]])

    def materialize(self, target: Path) -> None:
        """Write this state to a real directory (to check that recovery agrees on a real file system)."""
        for d in sorted(self.dirs):
            (target / d).mkdir(parents=True, exist_ok=True)
        for rel, data in self.files.items():
            (target / rel).write_bytes(bytes(data))
        for rel, link_target in self.links.items():
            os.symlink(link_target, target / rel)


def _move_under(names: dict[str, Any], src: str, dst: str) -> None:
    """Rename every key below the directory `src` to the same place below `dst`."""
    prefix = src + "/"
    for key in [k for k in names if k.startswith(prefix)]:
        names[dst + "/" + key[len(prefix) :]] = names.pop(key)


def _put(content: bytearray, offset: int, data: bytes) -> None:
    if len(content) < offset:
        content.extend(b"\0" * (offset - len(content)))
    content[offset : offset + len(data)] = data


def _truncate(content: bytearray, size: int) -> None:
    if len(content) > size:
        del content[size:]
    else:
        content.extend(b"\0" * (size - len(content)))


@dataclass
class CrashState:
    point: int  # how many logged operations happened before the power cut
    variant: str
    marks: int  # how many of the workload's marks (in `marks_of(log)`) were logged before the cut
    files: dict[str, bytes]
    dirs: set[str]
    links: dict[str, str] = field(default_factory=dict)  # symlink path -> target


@dataclass
class _Model:
    durable_dir: dict[str, int] = field(default_factory=dict)
    pending_dir: list[tuple[Any, ...]] = field(default_factory=list)
    durable: dict[int, bytes] = field(default_factory=dict)
    volatile: dict[int, bytearray] = field(default_factory=dict)
    pending_data: list[tuple[Any, ...]] = field(default_factory=list)
    links: dict[int, str] = field(default_factory=dict)  # the inode number of a symlink -> its target


def _apply_dir(names: dict[str, int], op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "mkdir":
        names[op[1]] = DIR
    elif kind in ("create", "symlink"):
        names[op[1]] = op[2]
    elif kind == "rename":
        if op[1] in names:
            moved = names[op[2]] = names.pop(op[1])
            if moved == DIR:
                _move_under(names, op[1], op[2])
    elif kind in ("unlink", "rmdir"):
        names.pop(op[1], None)


def _apply_data(content: bytearray, op: tuple[Any, ...]) -> None:
    if op[0] == "write":
        _put(content, op[2], op[3])
    else:
        _truncate(content, op[2])


def _state(model: _Model, n_dir: int,
           data_ops: list[tuple[Any, ...]]) -> tuple[dict[str, bytes], set[str], dict[str, str]]:
    names = dict(model.durable_dir)
    for op in model.pending_dir[:n_dir]:
        _apply_dir(names, op)
    contents: dict[int, bytearray] = {}
    for op in data_ops:
        ino = op[1]
        if ino not in contents:
            contents[ino] = bytearray(model.durable.get(ino, b""))
        _apply_data(contents[ino], op)
    files: dict[str, bytes] = {}
    dirs: set[str] = set()
    links: dict[str, str] = {}
    for path, ino in names.items():
        if ino == DIR:
            dirs.add(path)
        elif ino in model.links:
            links[path] = model.links[ino]
        else:
            files[path] = bytes(contents[ino]) if ino in contents else model.durable.get(ino, b"")
    return files, dirs, links


def _variants(model: _Model, last: tuple[Any, ...] | None, rng: random.Random) -> Iterator[tuple[str, int, list[Any]]]:
    """(name, how many pending directory ops persisted, which data ops persisted) for one crash point."""
    pend = model.pending_data
    m = len(model.pending_dir)
    yield "all", m, pend
    if pend or m:
        yield "durable only", 0, []
    if pend and m:
        yield "metadata only", m, []
        yield "data only", 0, pend
    for n in range(1, m):
        yield f"{n} of {m} dir ops", n, pend
    if len(pend) > 1:
        for j in range(len(pend)):
            yield f"unsynced op {j} dropped", m, pend[:j] + pend[j + 1 :]
    if last is None or last[0] != "write" or not pend or pend[-1] is not last:
        return
    _, ino, offset, data = last
    before = pend[:-1]
    cuts = range((offset // SECTOR + 1) * SECTOR, offset + len(data), SECTOR)
    for cut in cuts:
        rel = cut - offset
        yield f"last write torn at {cut}", m, [*before, ("write", ino, offset, data[:rel])]
        yield f"last write from {cut} only", m, [*before, ("write", ino, cut, data[rel:])]
    yield "last write garbage", m, [*before, ("write", ino, offset, rng.randbytes(len(data)))]
    yield "last write zeros", m, [*before, ("write", ino, offset, b"\0" * len(data))]
    for i, cut in enumerate([offset, *cuts][:4]):
        rel = cut - offset
        junk = rng.randbytes(min(SECTOR - cut % SECTOR, len(data) - rel))
        yield (
            f"sector {i} of last write garbage",
            m,
            [*before, ("write", ino, offset, data[:rel] + junk + data[rel + len(junk) :])],
        )


def marks_of(log: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [op[1:] for op in log if op[0] == "mark"]


def crash_states(log: list[tuple[Any, ...]], seed: int = 1, initial: dict[str, bytes] | None = None,
                 initial_dirs: set[str] | None = None) -> Iterator[CrashState]:
    """Every crash state of the recorded `log` (see the module docstring for the model), starting from the
    durable `initial` files (in the order RecordingOps(existing=...) numbered them) and directories."""
    rng = random.Random(seed)
    model = _Model()
    for ino, (path, content) in enumerate((initial or {}).items(), start=1):
        model.durable_dir[path] = ino
        model.durable[ino] = content
        model.volatile[ino] = bytearray(content)
    for directory in initial_dirs or set():
        model.durable_dir[directory] = DIR
    marks: list[tuple[Any, ...]] = []
    last: tuple[Any, ...] | None = None
    for point in range(len(log) + 1):
        if point:
            op = log[point - 1]
            kind = op[0]
            last = op
            if kind == "mark":
                marks.append(op[1:])
                continue  # the same disk state as the point before
            if kind in ("mkdir", "create", "symlink", "rename", "unlink", "rmdir"):
                model.pending_dir.append(op)
                if kind == "symlink":
                    model.links[op[2]] = op[3]
                if kind == "create":
                    model.durable.setdefault(op[2], b"")
                    model.volatile.setdefault(op[2], bytearray())
            elif kind in ("write", "trunc"):
                model.pending_data.append(op)
                _apply_data(model.volatile[op[1]], op)
            elif kind == "fsync":
                model.durable[op[1]] = bytes(model.volatile[op[1]])
                model.pending_data = [p for p in model.pending_data if p[1] != op[1]]
            elif kind == "fsync_dir":
                for pending in model.pending_dir:
                    _apply_dir(model.durable_dir, pending)
                model.pending_dir = []
            elif kind == "sync":
                for pending in model.pending_dir:
                    _apply_dir(model.durable_dir, pending)
                model.pending_dir = []
                for ino, unsynced in model.volatile.items():
                    model.durable[ino] = bytes(unsynced)
                model.pending_data = []
        for variant, n_dir, data_ops in _variants(model, last, rng):
            files, dirs, links = _state(model, n_dir, data_ops)
            yield CrashState(point, variant, len(marks), files, dirs, links)
