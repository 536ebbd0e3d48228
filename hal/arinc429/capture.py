"""The capture file of `appliance capture` / `replay`: raw adapter bytes with their receive times.

Layout: the magic line b"A429CAP1\\n", then records: struct "<dI" (receive time in seconds since the capture
started, float64; length, uint32) followed by that many raw bytes exactly as read from the port.
A truncated last record (the recorder lost power) ends the capture; it is not an error.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

MAGIC = b"A429CAP1\n"
RECORD = struct.Struct("<dI")


class Record(NamedTuple):
    seconds: float
    data: bytes


class CaptureError(ValueError):
    """Not a capture file."""


def is_capture(head: bytes) -> bool:
    """Whether the first bytes of a file are a capture's magic."""
    return head.startswith(MAGIC)


class CaptureWriter:
    """Writes the magic on creation, then one record per write(). The caller owns (and closes) the stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        stream.write(MAGIC)

    def write(self, seconds: float, data: bytes) -> None:
        self._stream.write(RECORD.pack(seconds, len(data)) + data)

    def flush(self) -> None:
        self._stream.flush()


def read_records(stream: BinaryIO, magic_read: bool = False) -> Iterator[Record]:
    """The records of a capture; checks the magic first unless the caller already consumed it."""
    if not magic_read and stream.read(len(MAGIC)) != MAGIC:
        raise CaptureError("not an ARINC 429 capture (bad magic)")
    while True:
        head = stream.read(RECORD.size)
        if len(head) < RECORD.size:
            return
        seconds, length = RECORD.unpack(head)
        data = stream.read(length)
        if len(data) < length:
            return
        yield Record(seconds, data)
