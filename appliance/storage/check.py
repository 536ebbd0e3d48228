"""A read-only check of the state directory, for `appliance fsck` (the content helper's command).

    from appliance.storage.check import check_state_dir
    report = check_state_dir(Path("/var/lib/appliance"))
    report["errors"]   # corruption: acknowledged data damaged (exit 4 territory)
    report["notes"]    # torn tails and the like: the normal trace of a power cut, fixed at the next start

Nothing is changed on disk: the daemon's own start does the repairs (truncating torn tails, quarantining
corrupt files) and reports them in health.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.fs.fileops import REAL_OPS, FileOps
from appliance.storage.boot import STATE
from appliance.storage.clock import FLOOR_FILE
from appliance.storage.journal import Journal


def check_state_dir(directory: Path, ops: FileOps = REAL_OPS) -> dict[str, Any]:
    recovery = Journal.inspect(directory / "journal", ops)
    errors = [str(p) for p in recovery.corruption]
    notes = [str(p) for p in recovery.problems if p.torn]
    for name in (STATE, FLOOR_FILE):
        path = directory / name
        if not ops.exists(path):
            continue
        try:
            json.loads(ops.read_bytes(path))
        except ValueError as error:
            errors.append(f"{name} unreadable: {error}")
    return {"records": len(recovery.records), "snapshot_seq": recovery.snapshot_seq, "errors": errors,
            "notes": notes}
