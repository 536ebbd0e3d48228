"""Boot bookkeeping (appliance.ports.BootInfo): boot id, clean-shutdown marker, unsafe-shutdown counter.

At start the marker `clean-shutdown` is read and removed (durably, before anything else is written): if it
was missing, the previous run ended by a power cut or a crash and the unsafe-shutdown counter goes up. At an
orderly stop the marker is written back with the reason. Counters live in `boot.json` (atomic replace).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from appliance.fs.atomic import atomic_write_text, read_state_file
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir

log = logging.getLogger("appliance.storage.boot")

MARKER = "clean-shutdown"
STATE = "boot.json"
UNCLEAN = "unclean: power loss or crash (no clean-shutdown marker)"
FIRST = "first boot"


class BootRecord:
    """Implements BootInfo. `begin()` once at start, `end(reason)` at an orderly stop."""

    def __init__(self, directory: Path, ops: FileOps = REAL_OPS) -> None:
        self.directory = directory
        self.ops = ops
        self._boot_id = str(uuid.uuid4())
        self._clean = False  # until begin() knows better: an unknown past is treated as unclean
        self._unsafe = 0
        self._boots = 0
        self._reason = "unknown (boot bookkeeping not read yet)"
        self.problems: list[str] = []
        self._judged = False
        self.begun = False  # begin() completed (it must count a boot once, even when the start is retried)

    @property
    def boot_id(self) -> str:
        return self._boot_id

    @property
    def previous_shutdown_clean(self) -> bool:
        return self._clean

    @property
    def unsafe_shutdowns(self) -> int:
        return self._unsafe

    @property
    def last_shutdown_reason(self) -> str:
        return self._reason

    @property
    def boots(self) -> int:
        return self._boots

    def begin(self) -> None:
        """Read and judge the previous shutdown (once per process, even if a write below fails and the start is
        retried), remove the marker, record the counters."""
        ensure_dir(self.directory, self.ops)
        marker_path = self.directory / MARKER
        marker = read_state_file(marker_path, self.ops)
        if not self._judged:
            self._judge(marker)
            self._judged = True
        if marker is not None:
            self.ops.unlink(marker_path)
            self.ops.fsync_dir(self.directory)
        self._write_state({"boots": self._boots, "unsafe_shutdowns": self._unsafe, "boot_id": self._boot_id,
                           "previous_shutdown": self._reason})
        self.begun = True
        (log.info if self._clean else log.warning)(
            "boot %s (#%d): previous shutdown %s; %d unsafe shutdowns so far",
            self._boot_id, self._boots, self._reason, self._unsafe)

    def _judge(self, marker: bytes | None) -> None:
        state = self._read_state()
        self._boots = int(state.get("boots", 0)) + 1
        self._unsafe = int(state.get("unsafe_shutdowns", 0))
        if not state:
            self._clean, self._reason = True, FIRST
        elif marker is None:
            self._clean, self._reason = False, UNCLEAN
            self._unsafe += 1
        else:
            self._clean = True
            try:
                self._reason = str(json.loads(marker)["reason"])
            except (ValueError, KeyError, TypeError):
                self._reason = "clean (marker unreadable)"

    def end(self, reason: str) -> None:
        """Write the clean-shutdown marker: call last, after everything else is durable."""
        atomic_write_text(self.directory / MARKER, json.dumps({"reason": reason, "boot_id": self._boot_id}),
                          ops=self.ops)

    def snapshot(self) -> dict[str, Any]:
        return {"boot_id": self._boot_id, "boots": self._boots, "previous_shutdown_clean": self._clean,
                "unsafe_shutdowns": self._unsafe, "last_shutdown_reason": self._reason}

    def _read_state(self) -> dict[str, Any]:
        raw = read_state_file(self.directory / STATE, self.ops)
        if raw is None:
            return {}
        try:
            state = json.loads(raw)
            if not isinstance(state, dict):
                raise ValueError("not an object")
            return state
        except ValueError as error:
            self.problems.append(f"{STATE} unreadable ({error}): counters restarted")
            return {"boots": 0}

    def _write_state(self, state: dict[str, Any]) -> None:
        atomic_write_text(self.directory / STATE, json.dumps(state), ops=self.ops)
