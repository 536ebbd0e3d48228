"""Hashing files in chunks with large reads (hashlib releases the GIL, so threads hash files in parallel)."""

from __future__ import annotations

import hashlib
import os
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
    path: Path, entry: FileEntry, chunk_size: int, throttle: Callable[[int], None] | None = None
) -> list[int]:
    """Indexes of chunks whose hash does not match the manifest; every chunk when the size differs.
    Reads the file once (each byte hashed once); `throttle(n)` is called after each read (the background
    re-hash uses it to bound its I/O rate). Raises OSError if the file cannot be read."""
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    bad: list[int] = []
    with open(path, "rb", buffering=0) as handle:
        if os.fstat(handle.fileno()).st_size != entry.size:
            return list(range(max(1, len(entry.chunks))))
        for index, expected in enumerate(entry.chunks):
            n = _read_full(handle, view)
            if throttle is not None:
                throttle(n)
            if hashlib.sha256(view[:n]).hexdigest() != expected:
                bad.append(index)
    return bad


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
