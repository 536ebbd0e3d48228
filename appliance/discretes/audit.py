"""The audit record of output changes: one JSON line per change, appended and fsynced before the change is made."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from appliance.fs.atomic import fsync_dir


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._seq = self._last_seq()

    def _last_seq(self) -> int:
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return 0
        last = 0
        for line in text.splitlines():
            try:
                last = max(last, int(json.loads(line)["seq"]))
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line from a power cut: the next record gets a fresh number
        return last

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Durable when it returns; raises OSError (then nothing may change)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        entry = {"seq": self._seq + 1, **record}
        data = (json.dumps(entry, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)
        self._seq += 1
        return entry

    def records(self) -> list[dict[str, Any]]:
        result = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    result.append(json.loads(line))
                except ValueError:
                    continue
        return result
