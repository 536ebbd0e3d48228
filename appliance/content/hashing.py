"""Hashing files in chunks with large reads (hashlib releases the GIL, so threads hash files in parallel)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.content.manifest import FileEntry


@dataclass(frozen=True)
class Digest:
    size: int
    sha256: str
    chunks: tuple[str, ...]


def digest_file(path: Path, chunk_size: int, sink: Callable[[memoryview], object] | None = None) -> Digest:
    """The whole-file SHA-256 and one SHA-256 per chunk, in one read pass. `sink` sees every byte (pack copies
    the file while hashing it)."""
    whole = hashlib.sha256()
    chunks: list[str] = []
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            n = _read_full(handle, view)
            if n == 0:
                break
            piece = view[:n]
            whole.update(piece)
            chunks.append(hashlib.sha256(piece).hexdigest())
            if sink is not None:
                sink(piece)
            size += n
            if n < chunk_size:
                break
    return Digest(size, whole.hexdigest(), tuple(chunks))


def _read_full(handle: object, view: memoryview) -> int:
    """Fill `view` unless the file ends first; the number of bytes read."""
    readinto = handle.readinto  # type: ignore[attr-defined]
    total = 0
    while total < len(view):
        n = readinto(view[total:])
        if not n:
            break
        total += n
    return int(total)


def bad_chunks(
    path: Path | str, entry: FileEntry, chunk_size: int, throttle: Callable[[int], None] | None = None
) -> list[int]:
    """Indexes of chunks whose hash does not match the manifest; every chunk when the size differs.
    Raises OSError if the file cannot be read."""
    view = _buffer(min(chunk_size, max(entry.size, 1)))
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.fstat(fd).st_size != entry.size:
            return list(range(max(1, len(entry.chunks))))
        return _bad_chunks(fd, view, entry.size, entry.chunks, chunk_size, throttle=throttle)
    finally:
        os.close(fd)


_buffers = threading.local()


def _buffer(size: int) -> memoryview:
    """A reusable read buffer per thread (allocating 256 KiB per small file costs more than hashing it)."""
    current: bytearray | None = getattr(_buffers, "buffer", None)
    if current is None or len(current) < size:
        current = bytearray(size)
        _buffers.buffer = current
    return memoryview(current)[:size]


def _bad_chunks(
    fd: int,
    view: memoryview,
    size: int,
    chunks: tuple[str, ...],
    chunk_size: int,
    *,
    throttle: Callable[[int], None] | None,
) -> list[int]:
    bad: list[int] = []
    for index, expected in enumerate(chunks):
        want = min(chunk_size, size - index * chunk_size)
        n = 0
        while n < want:
            got = os.readv(fd, [view[n:want]])
            if not got:
                break
            n += got
        if throttle is not None:
            throttle(n)
        if hashlib.sha256(view[:n]).hexdigest() != expected:
            bad.append(index)
    return bad


Signature = tuple[int, int, int]  # size, mtime_ns, inode
Verdict = tuple[str, str, Signature | None]
"""(kind, detail, signature): kind "ok", "corrupt", "truncated", "missing" or "unreadable"; the signature is
set for a good file that did not change while it was read (it is then verified as it is now)."""


def verify_file(
    path: str, size: int, chunks: tuple[str, ...], chunk_size: int, throttle: Callable[[int], None] | None = None
) -> Verdict:
    """Check one file against its manifest entry: one open, one read of every byte, each byte hashed once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return "missing", "", None
    except OSError as error:
        kind = "corrupt" if error.errno == errno.ELOOP else "unreadable"
        return kind, error.strerror or str(error), None
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return "corrupt", "not a regular file", None
        if before.st_size != size:
            return "truncated", f"{before.st_size} bytes, manifest says {size}", None
        view = _buffer(min(chunk_size, max(size, 1)))
        bad = _bad_chunks(fd, view, size, chunks, chunk_size, throttle=throttle)
        if bad:
            return "corrupt", f"{len(bad)} of {len(chunks)} chunks differ (first: {bad[0]})", None
        after = os.fstat(fd)
    except OSError as error:
        return "unreadable", error.strerror or str(error), None
    finally:
        os.close(fd)
    signature = (after.st_size, after.st_mtime_ns, after.st_ino)
    unchanged = signature == (before.st_size, before.st_mtime_ns, before.st_ino)
    return "ok", "", signature if unchanged else None


def chunk_hash(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path, block: int = 1 << 20) -> str:
    whole = hashlib.sha256()
    buffer = bytearray(block)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(view):
            whole.update(view[:n])
    return whole.hexdigest()


VerifyJob = tuple[str, int, tuple[str, ...], int]  # path, size, chunk hashes, chunk size


def verify_batch(batch: list[VerifyJob]) -> list[Verdict]:
    """verify_file for many files (picklable arguments and results: runs in a worker process)."""
    return [verify_file(path, size, chunks, chunk_size) for path, size, chunks, chunk_size in batch]


def verify_range(target: Path, offset: int, length: int, digest: str) -> bool:
    fd = os.open(target, os.O_RDONLY)
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    return len(data) == length and hashlib.sha256(data).hexdigest() == digest


def read_verified(source: tuple[Path, int, int], length: int, digest: str) -> bytes | None:
    """A chunk from a local file, only if it still matches its hash (the store may have rotted since)."""
    path, src_offset, src_length = source
    if src_length != length:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(fd, length, src_offset)
        finally:
            os.close(fd)
    except OSError:
        return None
    if len(data) != length or hashlib.sha256(data).hexdigest() != digest:
        return None
    return data
