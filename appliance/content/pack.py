"""Build a bundle from a directory: copy every file while hashing it, write the manifest, fsync it all.
Run by the ground side (`appliance content pack`), the way an airline prepares content."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from appliance.content.catalog import check_catalog
from appliance.content.hashing import digest_file
from appliance.content.manifest import (
    BUNDLE_ID,
    CHUNK_SIZE,
    MANIFEST_NAME,
    FileEntry,
    Manifest,
    ManifestError,
    category_of,
    priority_of,
    validate_path,
)
from appliance.fs.durable import atomic_write_bytes, fsync_dir, fsync_tree

INDEX_NAME = "index.json"


def source_files(src: Path) -> list[str]:
    """Every regular file under `src` as validated relative POSIX paths. Symlinks and special files are refused."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            full = Path(dirpath, name)
            mode = full.lstat().st_mode
            rel = full.relative_to(src).as_posix()
            if stat.S_ISLNK(mode):
                raise ManifestError(f"symlinks are not allowed in a bundle: {rel}")
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise ManifestError(f"not a regular file: {rel}")
            found.append(validate_path(rel))
    return sorted(found)


def default_bundle_id(src: Path, now: datetime) -> str:
    base = "".join(c if c.isalnum() or c in "._-" else "-" for c in src.resolve().name) or "bundle"
    return f"{base}-{now.strftime('%Y%m%dT%H%M%SZ')}"


def pack(
    src: Path,
    dest: Path,
    *,
    bundle_id: str | None = None,
    priorities: dict[str, int] | None = None,
    chunk_size: int = CHUNK_SIZE,
    now: datetime | None = None,
) -> Manifest:
    """Copy `src` into the new bundle directory `dest` (absent or empty) with its manifest, all fsynced.
    A catalog.json whose licence fields are wrong (`offline_hours`) is refused before anything is written."""
    now = now or datetime.now(UTC)
    bundle_id = bundle_id or default_bundle_id(src, now)
    if not BUNDLE_ID.fullmatch(bundle_id):
        raise ManifestError(f"bad bundle id {bundle_id!r} (letters, digits, . _ -)")
    if not src.is_dir():
        raise ManifestError(f"{src} is not a directory")
    if dest.exists() and any(dest.iterdir()):
        raise ManifestError(f"{dest} exists and is not empty")
    paths = source_files(src)
    check_catalog(src)
    dest.mkdir(parents=True, exist_ok=True)
    entries: list[FileEntry] = []
    for rel in paths:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            digest = digest_file(src / rel, chunk_size, sink=out.write)
        category = category_of(rel)
        entries.append(
            FileEntry(rel, digest.size, digest.sha256, digest.chunks, category, priority_of(category, priorities))
        )
    manifest = Manifest(bundle_id, now.strftime("%Y-%m-%dT%H:%M:%SZ"), chunk_size, tuple(entries))
    fsync_tree(dest)
    atomic_write_bytes(dest / MANIFEST_NAME, manifest.to_bytes())
    fsync_dir(dest.parent)
    return manifest


def publish(bundles_dir: Path, manifest: Manifest, bundle_dir_name: str) -> dict[str, Any]:
    """Add the bundle to `<bundles_dir>/index.json` and make it the current one (atomic replace).

    index.json: {"format": 1, "current": "<bundle id>", "bundles": [{"id", "manifest", "created", "size"}]},
    `manifest` relative to the index (the ground serves the directory at `<url>/content/`)."""
    index_path = bundles_dir / INDEX_NAME
    try:
        index: dict[str, Any] = json.loads(index_path.read_bytes())
    except FileNotFoundError:
        index = {"format": 1, "bundles": []}
    bundles = [b for b in index.get("bundles", []) if isinstance(b, dict) and b.get("id") != manifest.bundle_id]
    bundles.append(
        {
            "id": manifest.bundle_id,
            "manifest": f"{bundle_dir_name}/{MANIFEST_NAME}",
            "created": manifest.created,
            "size": manifest.total_size,
        }
    )
    index = {"format": 1, "current": manifest.bundle_id, "bundles": bundles}
    atomic_write_bytes(index_path, json.dumps(index, indent=1).encode())
    return index
