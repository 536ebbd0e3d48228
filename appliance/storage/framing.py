"""On-disk framing of journal records and segment headers, and the scan that tells a torn tail from corruption.

Record (8-byte aligned, as etcd's WAL, so the length field never straddles a sector and is never torn)::

    0  u32 crc32c over bytes [4, 24 + length)   (length, seq, type, flags and payload)
    4  u32 payload length
    8  u64 sequence number (contiguous: each record is the previous + 1)
    16 u16 type
    18 u16 flags (bit 0: last record of its group-commit batch)
    20 u32 crc32c of bytes [4, 20)               (the header alone: a corrupt length is caught before use)
    24 payload, then zero padding to a multiple of 8

Segment file: a 32-byte header (magic, segment index, first sequence, crc32c) then records, then zeros (space
written ahead of the records, so that an append's sync need not grow the file).

Only the last batch of the last segment can be torn: every batch is written and fsynced before the next one
is written, and a segment is sealed (fsynced) before the next is created. So a bad record followed somewhere
by a *later* batch (a batch-end record followed by another valid record) is corruption of acknowledged data,
never a torn write; a bad record with nothing but the rest of one batch after it is a torn tail.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import NamedTuple

import crc32c

from appliance.fs.formats import FormatUnreadable

RECORD_HEADER = struct.Struct("<IIQHHI")
HEADER_SIZE = RECORD_HEADER.size  # 24
ALIGN = 8
MAX_PAYLOAD = 64 * 1024 * 1024
FLAG_BATCH_END = 1

SEGMENT_MAGIC = b"APJOURN1"
SEGMENT_HEADER = struct.Struct("<8sQQI")  # magic, index, first_seq, crc32c of the first 24 bytes
SEGMENT_HEADER_SIZE = 32  # struct is 28 bytes, padded to keep records 8-aligned

_HEAD_FIELDS = struct.Struct("<IQHH")  # length, seq, type, flags: the bytes [4, 20)


def _padded(n: int) -> int:
    return (n + ALIGN - 1) & ~(ALIGN - 1)


def encode_record(seq: int, rtype: int, payload: bytes, flags: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"journal record of {len(payload)} bytes is over the {MAX_PAYLOAD} limit")
    head = _HEAD_FIELDS.pack(len(payload), seq, rtype, flags)
    head_crc = crc32c.crc32c(head)
    body_crc = crc32c.crc32c(payload, crc32c.crc32c(head))
    pad = _padded(len(payload)) - len(payload)
    return struct.pack("<I", body_crc) + head + struct.pack("<I", head_crc) + payload + b"\0" * pad


def encode_segment_header(index: int, first_seq: int) -> bytes:
    head = struct.pack("<8sQQ", SEGMENT_MAGIC, index, first_seq)
    return head + struct.pack("<I", crc32c.crc32c(head)) + b"\0" * (SEGMENT_HEADER_SIZE - 28)


def decode_segment_header(data: bytes) -> tuple[int, int] | None:
    """(index, first_seq), or None when the header is missing, short or corrupt. A whole header (its CRC good) of
    another journal format version raises FormatUnreadable: that is state to refuse, never corruption to skip."""
    if len(data) < SEGMENT_HEADER_SIZE:
        return None
    magic, index, first_seq, crc = SEGMENT_HEADER.unpack_from(data, 0)
    if crc != crc32c.crc32c(data[:24]):
        return None
    if magic != SEGMENT_MAGIC:
        if magic[:7] == SEGMENT_MAGIC[:7]:
            raise FormatUnreadable(f"journal segment of format {magic[7:]!r}: this release reads {SEGMENT_MAGIC[7:]!r}")
        return None
    return index, first_seq


class Record(NamedTuple):
    seq: int
    rtype: int
    payload: bytes
    offset: int
    batch_end: bool


@dataclass
class Damage:
    """A bad region found by the scan. `torn` damage is the expected result of a power cut (truncated);
    anything else is corruption of data that had been made durable (reported, never skipped silently)."""

    offset: int
    length: int
    torn: bool
    reason: str


@dataclass
class ScanResult:
    records: list[Record] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    good_end: int = SEGMENT_HEADER_SIZE  # where the next record may be appended (after the last good one)


def _record_at(data: bytes, offset: int, expect_seq: int | None) -> tuple[Record, int] | None:
    """The valid record at `offset` and the offset after it, or None. (The body CRC covers the header fields
    too, so once the length is known to fit, one check decides; the header CRC guards what tools read.)"""
    if offset + HEADER_SIZE > len(data):
        return None
    body_crc, length, seq, rtype, flags, _ = RECORD_HEADER.unpack_from(data, offset)
    start = offset + HEADER_SIZE
    stop = start + length
    if stop > len(data) or (expect_seq is not None and seq != expect_seq):
        return None
    payload = data[start:stop]
    if body_crc != crc32c.crc32c(payload, crc32c.crc32c(data[offset + 4 : offset + 20])):
        return None
    return Record(seq, rtype, payload, offset, bool(flags & FLAG_BATCH_END)), start + ((length + 7) & ~7)


_new_record = tuple.__new__  # Record's fields without its Python-level __new__: recovery builds 100,000s


def _read_run(data: bytes, offset: int, expect_seq: int | None, out: list[Record]) -> int:
    """Append to `out` the valid records from `offset` on (each the previous + 1; the first `expect_seq`
    unless None) as `_record_at` reads each; returns the offset after the last one. This loop is
    recovery's hot path (one pass per record of the journal): locals only, no calls but the C ones."""
    unpack = RECORD_HEADER.unpack_from
    crc = crc32c.crc32c
    append = out.append
    size = len(data)
    while offset + HEADER_SIZE <= size:
        body_crc, length, seq, rtype, flags, _ = unpack(data, offset)
        start = offset + HEADER_SIZE
        stop = start + length
        if stop > size or (expect_seq is not None and seq != expect_seq):
            break
        payload = data[start:stop]
        if body_crc != crc(payload, crc(data[offset + 4 : offset + 20])):
            break
        append(_new_record(Record, (seq, rtype, payload, offset, bool(flags & FLAG_BATCH_END))))
        offset = start + ((length + 7) & ~7)
        expect_seq = seq + 1
    return offset


def _resync(data: bytes, offset: int, after_seq: int | None) -> list[Record]:
    """Valid records after a bad spot: hunt aligned offsets for one with a later sequence, then read on."""
    found: list[Record] = []
    position = offset + ALIGN
    while position + HEADER_SIZE <= len(data):
        if not data[position : position + HEADER_SIZE].strip(b"\0"):
            # No record header is all zeros: skip the run (a torn record before the zeroed space ahead would
            # otherwise cost a probe per 8 bytes of it) to the first aligned offset whose header reaches past it.
            rest = data[position:]
            nonzero = position + len(rest) - len(rest.lstrip(b"\0"))
            position = max(position + ALIGN, _padded(nonzero - HEADER_SIZE + 1))
            continue
        hit = _record_at(data, position, None)
        if hit is not None and (after_seq is None or hit[0].seq > after_seq):
            record, position = hit
            found.append(record)
            _read_run(data, position, record.seq + 1, found)
            return found
        position += ALIGN
    return found


def scan_segment(data: bytes, prev_seq: int | None, last_segment: bool) -> ScanResult:
    """Read every record of one segment (after its header). `prev_seq` is the sequence before the segment's
    first record (None if unknown). Only in the `last_segment` can damage be a torn tail."""
    result = ScanResult()
    offset = SEGMENT_HEADER_SIZE
    expect = None if prev_seq is None else prev_seq + 1
    while offset < len(data):
        before = len(result.records)
        offset = _read_run(data, offset, expect, result.records)
        if len(result.records) > before:
            result.good_end = offset
            expect = result.records[-1].seq + 1
            if offset >= len(data):
                break
        rest = data[offset:]
        if not rest.strip(b"\0"):
            # Zeros after a batch's last record (or after the header) are the journal's zeroed space ahead of the
            # records (Journal._padded_write): unused, nothing to report, in any segment. Zeros after a record
            # whose batch goes on are a batch cut short by a power cut: a torn tail, in the last segment.
            unused = not result.records or result.records[-1].batch_end
            if last_segment and not unused:
                result.damage.append(Damage(offset, len(rest), True, "zero-filled tail"))
            break
        after = expect - 1 if expect is not None else None
        later = _resync(data, offset, after)
        later_batch = any(r.batch_end for r in later[:-1])
        if later and (later_batch or not last_segment):
            gap = later[0].offset - offset
            lost = f"sequence {expect}..{later[0].seq - 1}" if expect is not None else "unknown records"
            result.damage.append(Damage(offset, gap, False, f"corrupt record(s) before valid data ({lost})"))
            result.records.extend(later)
            result.good_end = later[-1].offset + HEADER_SIZE + _padded(len(later[-1].payload))
            offset = result.good_end
            expect = later[-1].seq + 1
            continue
        reason = "torn tail" if last_segment else "corrupt tail of a sealed segment"
        if later:
            reason += f" ({len(later)} whole record(s) of the same unsynced batch dropped)"
        result.damage.append(Damage(offset, len(rest), last_segment, reason))
        break
    return result
