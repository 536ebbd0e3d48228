"""The versions of the on-disk state formats this code reads and writes, and the state directory's marker of
the formats its state was last written in (`formats.json`).

A release lists these in its manifest (`release.json` "state_formats"), so the updater can tell, before a
release ever starts, whether it can read the state (`can_read`) and whether the release running before it
could read what it would write (`trial_writes`). The policy (docs/update.md): a release on trial writes the
newest format that the committed release can also read ("write the older format until commit"); only once it
is committed may it write its own newest. Today every format is at version 1, written and read by all.

`read_marker` returns None for a state directory that has none (a fresh one, or one from before markers: both
are version 1); it raises FormatUnreadable for a marker that exists but cannot be parsed (a release never starts
on state it cannot read, and a marker it cannot read is such state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from appliance.fs.atomic import atomic_write_bytes, read_state_file
from appliance.fs.fileops import REAL_OPS, FileOps

MARKER = "formats.json"

#: format -> the versions this code reads, and the versions it can write (its newest last)
READS: dict[str, tuple[int, ...]] = {"journal": (1,), "snapshot": (1,), "state_files": (1,)}
WRITES: dict[str, tuple[int, ...]] = {"journal": (1,), "snapshot": (1,), "state_files": (1,)}


class FormatUnreadable(Exception):
    """The state directory's format marker is corrupt, or names a format version the reader cannot read."""


def declared() -> dict[str, dict[str, list[int]]]:
    """This code's formats as a release manifest lists them: {format: {"reads": [...], "writes": [...]}}."""
    return {name: {"reads": list(READS[name]), "writes": list(WRITES.get(name, ()))} for name in READS}


def parse_declared(value: Any) -> dict[str, dict[str, list[int]]]:
    """A manifest's "state_formats"; raises ValueError when it is not {name: {"reads": [int], "writes": [int]}}."""
    if not isinstance(value, dict):
        raise ValueError("state_formats: expected an object")
    out: dict[str, dict[str, list[int]]] = {}
    for name, sides in value.items():
        if not isinstance(sides, dict):
            raise ValueError(f"state_formats.{name}: expected an object")
        entry: dict[str, list[int]] = {}
        for side in ("reads", "writes"):
            versions = sides.get(side, [])
            if not isinstance(versions, list) or not all(isinstance(v, int) and v > 0 for v in versions):
                raise ValueError(f"state_formats.{name}.{side}: expected a list of positive integers")
            entry[side] = sorted(versions)
        out[str(name)] = entry
    return out


def read_marker(state_dir: Path, ops: FileOps = REAL_OPS) -> dict[str, int] | None:
    data = read_state_file(state_dir / MARKER, ops)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError as error:
        raise FormatUnreadable(f"{state_dir / MARKER}: not JSON ({error})") from None
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise FormatUnreadable(f"{state_dir / MARKER}: expected {{format: version}}")
    return {str(k): int(v) for k, v in value.items()}


def write_marker(state_dir: Path, versions: Mapping[str, int], ops: FileOps = REAL_OPS) -> None:
    atomic_write_bytes(state_dir / MARKER, json.dumps(dict(sorted(versions.items()))).encode(), ops=ops)


def can_read(reads: Mapping[str, Mapping[str, list[int]]] | Mapping[str, tuple[int, ...]],
             state: Mapping[str, int] | None) -> str | None:
    """None if a reader of these formats can read state written in `state`; else why not. No marker: all 1."""
    written = dict(state) if state is not None else {name: 1 for name in READS}
    for name, version in sorted(written.items()):
        entry = reads.get(name)
        versions = entry.get("reads", []) if isinstance(entry, Mapping) else (entry or ())
        if version not in versions:
            return f"cannot read {name} format {version} (reads {list(versions) or 'none'})"
    return None


def trial_writes(new: Mapping[str, Mapping[str, list[int]]],
                 committed: Mapping[str, Mapping[str, list[int]]]) -> dict[str, int] | str:
    """What a release on trial writes: per format, the newest version it writes that the committed release
    reads. A string (why) when there is none for some format: the trial would leave state the rollback
    cannot read, so the release is refused."""
    out: dict[str, int] = {}
    for name, sides in sorted(new.items()):
        readable = set(committed.get(name, {}).get("reads", [1]))
        choices = [v for v in sides.get("writes", []) if v in readable]
        if not choices:
            return f"writes {name} only as {sides.get('writes')}, which the committed release cannot read"
        out[name] = max(choices)
    return out


def newest_writes(new: Mapping[str, Mapping[str, list[int]]]) -> dict[str, int]:
    return {name: max(sides.get("writes", [1]) or [1]) for name, sides in sorted(new.items())}
