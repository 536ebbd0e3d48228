"""The bundle format: a directory holding `manifest.json` and the files it lists.

A manifest names every file with its size, SHA-256 and the SHA-256 of each fixed-size chunk (the unit the
ground link fetches and verifies), plus a category and a priority (lower first: newspapers before videos).
It is static data: any HTTP server that honours Range requests can serve a bundle.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST_NAME = "manifest.json"
CHUNK_SIZE = 256 * 1024
BUNDLE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HEX64_MANY = re.compile(r"(?:[0-9a-f]{64})+")

# Priority by top-level directory (the category) when the packer is not told otherwise: lower goes first.
DEFAULT_PRIORITIES: dict[str, int] = {
    "": 0,  # files at the root (the catalog)
    "catalog": 0,
    "newspapers": 10,
    "news": 10,
    "magazines": 20,
    "books": 30,
    "music": 40,
    "audio": 40,
    "games": 50,
    "videos": 90,
    "movies": 90,
}
DEFAULT_PRIORITY = 60


_BAD_PARTS = frozenset(("", ".", ".."))


class ManifestError(ValueError):
    """A manifest or bundle path that cannot be trusted."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # POSIX, relative, validated
    size: int
    sha256: str
    chunks: tuple[str, ...]
    category: str = ""
    priority: int = DEFAULT_PRIORITY

    def chunk_range(self, index: int, chunk_size: int) -> tuple[int, int]:
        """(offset, length) of chunk `index`."""
        offset = index * chunk_size
        return offset, min(chunk_size, self.size - offset)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "chunks": list(self.chunks),
            "category": self.category,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Manifest:
    bundle_id: str
    created: str  # ISO 8601 UTC, informational (ordering uses the ground's index, never this clock)
    chunk_size: int = CHUNK_SIZE
    files: tuple[FileEntry, ...] = ()
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, FileEntry]:
        return {f.path: f for f in self.files}

    def in_priority_order(self) -> list[FileEntry]:
        return sorted(self.files, key=lambda f: (f.priority, f.path))

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "bundle_id": self.bundle_id,
            "created": self.created,
            "chunk_size": self.chunk_size,
            "files": [f.as_dict() for f in self.files],
        } | self.extra

    def to_bytes(self) -> bytes:
        return json.dumps(self.as_dict(), separators=(",", ":"), sort_keys=False).encode("utf-8")


def validate_path(path: object) -> str:
    """A bundle-relative path: POSIX, not absolute, no `..`, `.` or empty parts, not the manifest itself."""
    if type(path) is not str or not path or "\\" in path or "\x00" in path:
        raise ManifestError(f"bad path {path!r}")
    if path[0] == "/" or not _BAD_PARTS.isdisjoint(path.split("/")):
        raise ManifestError(f"path must be relative without '..' or '.': {path!r}")
    if path == MANIFEST_NAME:
        raise ManifestError(f"a file may not be called {MANIFEST_NAME}")
    return path


def expected_chunks(size: int, chunk_size: int) -> int:
    return max(1, -(-size // chunk_size)) if size else 0


def parse_manifest(data: bytes | str) -> Manifest:
    """Parse and validate manifest JSON. Raises ManifestError naming what is wrong."""
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ManifestError(f"manifest is not JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ManifestError("manifest must be a JSON object")
    if raw.get("format") != FORMAT:
        raise ManifestError(f"unsupported manifest format {raw.get('format')!r} (expected {FORMAT})")
    bundle_id = raw.get("bundle_id")
    if not isinstance(bundle_id, str) or not BUNDLE_ID.fullmatch(bundle_id):
        raise ManifestError(f"bad bundle_id {bundle_id!r}")
    chunk_size = raw.get("chunk_size")
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or not 4096 <= chunk_size <= 64 << 20:
        raise ManifestError(f"bad chunk_size {chunk_size!r}")
    created = raw.get("created", "")
    files_raw = raw.get("files")
    if not isinstance(files_raw, list):
        raise ManifestError("files must be a list")
    files: list[FileEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(files_raw):
        files.append(_parse_entry(item, index, chunk_size))
        key = files[-1].path
        if key in seen:
            raise ManifestError(f"files[{index}]: duplicate path {key!r}")
        seen.add(key)
    _check_no_file_is_a_directory(seen)
    known = {"format", "bundle_id", "created", "chunk_size", "files"}
    extra = {k: v for k, v in raw.items() if k not in known}
    return Manifest(bundle_id, str(created), chunk_size, tuple(files), FORMAT, extra)


def _parse_entry(item: Any, index: int, chunk_size: int) -> FileEntry:
    """One file of the manifest (validated: this runs for every file at every boot, so it is kept lean)."""
    if type(item) is not dict:
        raise ManifestError(f"files[{index}]: expected an object")
    try:
        path = validate_path(item.get("path"))
    except ManifestError as error:
        raise ManifestError(f"files[{index}]: {error}") from None
    where = f"files[{index}] ({path})"
    size = item.get("size")
    if type(size) is not int or size < 0:
        raise ManifestError(f"{where}: bad size {size!r}")
    digest = item.get("sha256")
    chunks = item.get("chunks")
    if type(chunks) is not list or not all(type(c) is str for c in chunks):
        raise ManifestError(f"{where}: bad chunks")
    if type(digest) is not str or not HEX64_MANY.fullmatch("".join(chunks) + digest):
        raise ManifestError(f"{where}: bad sha256 or chunks (64 lowercase hex digits each)")
    if len(chunks) != expected_chunks(size, chunk_size):
        raise ManifestError(f"{where}: {len(chunks)} chunk hashes for {size} bytes")
    category = item.get("category", "")
    priority = item.get("priority", DEFAULT_PRIORITY)
    if not isinstance(category, str) or not isinstance(priority, int) or isinstance(priority, bool):
        raise ManifestError(f"{where}: bad category or priority")
    return FileEntry(path, size, digest, tuple(chunks), category, priority)


def _check_no_file_is_a_directory(paths: set[str]) -> None:
    for path in paths:
        cut = path.rfind("/")
        while cut > 0:
            parent = path[:cut]
            if parent in paths:
                raise ManifestError(f"{parent} is both a file and a directory")
            cut = path.rfind("/", 0, cut)


def load_manifest(bundle_dir: Path) -> Manifest:
    try:
        data = (bundle_dir / MANIFEST_NAME).read_bytes()
    except OSError as error:
        raise ManifestError(f"cannot read {bundle_dir / MANIFEST_NAME}: {error.strerror}") from None
    return parse_manifest(data)


def category_of(path: str) -> str:
    """The top-level directory of a path ("" for a file at the root)."""
    head, sep, _ = path.partition("/")
    return head if sep else ""


def priority_of(category: str, overrides: dict[str, int] | None = None) -> int:
    if overrides and category in overrides:
        return overrides[category]
    return DEFAULT_PRIORITIES.get(category, DEFAULT_PRIORITY)
