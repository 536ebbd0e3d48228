"""The content check's stat cache: what a check last found good, so a boot's check reads nothing it need not."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from appliance.content.manifest import MANIFEST_NAME
from appliance.fs.durable import atomic_write_bytes

STATCACHE = "statcache.json"


class StatCache:
    """Size, mtime and inode of every file last verified good ("dir/path" keys), and per bundle a summary of a
    check that found it whole (its manifest's and directories' stats, its file count), persisted by atomic
    replace. A bundle whose manifest, directories and files all still match needs no reading at all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, list[int]] = {}
        self.bundles: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            raw = json.loads(path.read_bytes())
            files, bundles = raw["files"], raw["bundles"]
            self.entries = {k: v for k, v in files.items() if isinstance(v, list) and len(v) == 3}
            self.bundles = {k: v for k, v in bundles.items() if isinstance(v, dict)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.entries, self.bundles = {}, {}

    @staticmethod
    def signature(st: os.stat_result) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def matches(self, key: str, st: os.stat_result) -> bool:
        return self.entries.get(key) == self.signature(st)

    def record(self, key: str, st: os.stat_result) -> None:
        signature = self.signature(st)
        if self.entries.get(key) != signature:
            self.entries[key] = signature
            self.dirty = True

    def forget(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.dirty = True

    def keep_only(self, keys: set[str]) -> None:
        stale = [k for k in self.entries if k not in keys]
        for key in stale:
            del self.entries[key]
        self.dirty = self.dirty or bool(stale)

    def set_summary(self, bundle: str, summary: dict[str, Any] | None) -> None:
        if summary is None:
            if self.bundles.pop(bundle, None) is not None:
                self.dirty = True
        elif self.bundles.get(bundle) != summary:
            self.bundles[bundle] = summary
            self.dirty = True

    def unchanged(self, bundle: Path) -> int | None:
        """The file count when `bundle` is exactly as a check last found it whole (manifest, directories and
        every file unchanged by stat); None when anything differs and the bundle must be examined."""
        summary = self.bundles.get(bundle.name)
        if summary is None:
            return None
        sig = self.signature
        try:
            if sig(os.lstat(f"{bundle}/{MANIFEST_NAME}")) != summary.get("manifest"):
                return None
            for rel, expected in summary.get("dirs", {}).items():
                if sig(os.lstat(f"{bundle}/{rel}")) != expected:
                    return None
            prefix = bundle.name + "/"
            parent = bundle.parent
            count = 0
            for key, expected in self.entries.items():
                if key.startswith(prefix):
                    count += 1
                    if sig(os.lstat(f"{parent}/{key}")) != expected:
                        return None
        except OSError:
            return None
        return count if count == summary.get("files") else None

    def save(self) -> None:
        if self.dirty:
            data = {"files": self.entries, "bundles": self.bundles}
            atomic_write_bytes(self.path, json.dumps(data, separators=(",", ":")).encode())
            self.dirty = False
