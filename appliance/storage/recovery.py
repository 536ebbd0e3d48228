"""Journal recovery: read the snapshot and every segment, tell torn tails (truncated: the normal trace of a
power cut) from corruption (reported, quarantined, never skipped silently), and hand back what to replay.

With `repair=False` nothing on disk changes (for `appliance fsck`).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import crc32c

from appliance.fs.atomic import remove_stray_temps
from appliance.fs.fileops import FileOps, ensure_dir
from appliance.fs.formats import FormatUnreadable
from appliance.storage.framing import SEGMENT_HEADER_SIZE, Record, decode_segment_header, scan_segment

log = logging.getLogger("appliance.storage.journal")

SEGMENT_RE = re.compile(r"seg-(\d{8})\.log")
SNAPSHOT_NAME = "snapshot"
SNAPSHOT_MAGIC = b"APSNAP01"
CORRUPT_DIR = "corrupt"
_SNAP_HEAD = struct.Struct("<8sQQ")  # magic, seq, payload length; then u32 crc32c of head+payload, payload


def segment_name(index: int) -> str:
    return f"seg-{index:08d}.log"


def encode_snapshot(seq: int, payload: bytes) -> bytes:
    head = _SNAP_HEAD.pack(SNAPSHOT_MAGIC, seq, len(payload))
    return head + struct.pack("<I", crc32c.crc32c(payload, crc32c.crc32c(head))) + payload


def decode_snapshot(data: bytes) -> tuple[int, bytes] | None:
    """(seq, payload) or None when the snapshot is damaged; FormatUnreadable for a whole snapshot of another format."""
    if len(data) < _SNAP_HEAD.size + 4:
        return None
    magic, seq, length = _SNAP_HEAD.unpack_from(data, 0)
    start = _SNAP_HEAD.size + 4
    if len(data) != start + length:
        return None
    (crc,) = struct.unpack_from("<I", data, _SNAP_HEAD.size)
    payload = data[start:]
    if crc != crc32c.crc32c(payload, crc32c.crc32c(data[: _SNAP_HEAD.size])):
        return None
    if magic != SNAPSHOT_MAGIC:
        if magic[:6] == SNAPSHOT_MAGIC[:6]:
            raise FormatUnreadable(f"snapshot of format {magic[6:]!r}: this release reads {SNAPSHOT_MAGIC[6:]!r}")
        return None
    return seq, payload


@dataclass
class Problem:
    """Something recovery found. `torn` problems are the normal trace of a power cut; the rest is corruption."""

    file: str
    offset: int
    length: int
    torn: bool
    reason: str

    def __str__(self) -> str:
        kind = "torn" if self.torn else "CORRUPT"
        return f"{kind} {self.file} at {self.offset} ({self.length} bytes): {self.reason}"


@dataclass
class Recovery:
    """What recovery found: the snapshot (if any) and every record after it, in sequence order."""

    snapshot_seq: int = 0
    snapshot: bytes | None = None
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def corruption(self) -> list[Problem]:
        return [p for p in self.problems if not p.torn]


@dataclass
class Segment:
    index: int
    path: Path
    max_seq: int  # 0 while empty


@dataclass
class Recovered:
    """Recovery plus what the journal needs to carry on writing."""

    recovery: Recovery
    segments: list[Segment] = field(default_factory=list)
    damaged: set[str] = field(default_factory=set)  # segment names with corruption
    last_seq: int = 0
    journal_bytes: int = 0  # record bytes in the segments (since the snapshot, roughly)


def quarantine(directory: Path, name: str, ops: FileOps) -> None:
    """Keep a corrupt file for inspection, out of the journal's way (`corrupt/<name>.<time>`)."""
    target = directory / CORRUPT_DIR
    ensure_dir(target, ops)
    ops.rename(directory / name, target / f"{name}.{int(time.time())}")
    ops.fsync_dir(target)
    ops.fsync_dir(directory)


def recover(directory: Path, ops: FileOps, repair: bool = True) -> Recovered:
    if repair:
        ensure_dir(directory, ops)
        remove_stray_temps(directory, ops)
    elif not ops.exists(directory):
        return Recovered(Recovery())
    out = Recovered(Recovery())
    recovery = out.recovery
    names = ops.listdir(directory)
    if SNAPSHOT_NAME in names:
        decoded = decode_snapshot(ops.read_bytes(directory / SNAPSHOT_NAME))
        if decoded is None:
            recovery.problems.append(Problem(SNAPSHOT_NAME, 0, 0, False, "snapshot fails its checksum"))
            if repair:
                quarantine(directory, SNAPSHOT_NAME, ops)
        else:
            recovery.snapshot_seq, recovery.snapshot = decoded
    indexes = sorted(int(m.group(1)) for n in names if (m := SEGMENT_RE.fullmatch(n)))
    last_seq = recovery.snapshot_seq
    for position, index in enumerate(indexes):
        name = segment_name(index)
        path = directory / name
        data = ops.read_bytes(path)
        is_last = position == len(indexes) - 1
        header = decode_segment_header(data)
        if header is None:
            if is_last:
                # Created but its header never became durable: a torn create. Nothing was acknowledged in it.
                recovery.problems.append(Problem(name, 0, len(data), True, "segment header torn"))
                if repair:
                    ops.unlink(path)
                    ops.fsync_dir(directory)
                continue
            recovery.problems.append(Problem(name, 0, len(data), False, "segment header corrupt"))
            if repair:
                quarantine(directory, name, ops)
            continue
        _, first_seq = header
        if last_seq and first_seq > last_seq + 1:
            # e.g. a sealed segment's fsynced tail came back as zeros: records were lost between the files
            recovery.problems.append(Problem(name, 0, 0, False,
                                             f"records {last_seq + 1}..{first_seq - 1} missing before this segment"))
        scan = scan_segment(data, first_seq - 1, is_last)
        for damage in scan.damage:
            recovery.problems.append(Problem(name, damage.offset, damage.length, damage.torn, damage.reason))
            if not damage.torn:
                out.damaged.add(name)
        max_seq = 0
        for record in scan.records:
            max_seq = record.seq
            if record.seq > last_seq:
                recovery.records.append(record)
                last_seq = record.seq
        if repair and is_last and any(d.torn for d in scan.damage):
            # Cut the torn tail off durably before anything else is written: from now on this segment is
            # sealed, and damage in a sealed segment means corruption.
            fd = ops.open(path, os.O_WRONLY)
            try:
                ops.truncate(fd, scan.good_end)
                ops.fsync(fd)
            finally:
                ops.close(fd)
        out.segments.append(Segment(index, path, max_seq))
        out.journal_bytes += scan.good_end - SEGMENT_HEADER_SIZE
    out.last_seq = last_seq
    for problem in recovery.problems:
        (log.error if not problem.torn else log.info)("journal recovery: %s", problem)
    return out
