"""The ARINC-429-to-serial adapter's 14-byte frame, and the incremental (frame by frame) parser.

Frame, little-endian: sync 0x5A 0xA5 | channel (0-7; 0xFF heartbeat) | flags | uint32 timestamp (us) |
uint32 word | CRC-16/CCITT-FALSE over bytes 2..11 (stored little-endian).

The hunt, which `AdapterStream` (stream.py) reproduces in bulk: from the current position find the next sync
pair; with fewer than 14 bytes after it, keep it for the next read; if its CRC checks, accept the frame and
continue after it; else count a CRC error, skip one byte and hunt on. Counting rules:
- frames: every accepted frame (heartbeats included, on channel 0xFF); words: accepted non-heartbeat frames;
  parity_errors: accepted words with even parity; line_errors: accepted words the adapter flagged (flags bit 1:
  it saw a gap or a bit-length error). A flagged word is never used, even with good parity: two flipped bits
  keep the parity right.
- crc_errors: a complete sync candidate whose CRC fails, charged to its channel byte when that is a valid
  channel (0-7 or 0xFF), else to UNKNOWN_CHANNEL (-1). Candidates inside an accepted frame are never examined.
- resyncs: a frame accepted after one or more bytes were discarded since the previous accepted frame (or since
  the start or a reset()), charged to the channel of the frame that regained sync. A stream that starts with a
  partial frame therefore counts one resync.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, fields
from typing import NamedTuple

from hal.arinc429.word import parity_ok

SYNC = b"\x5a\xa5"
FRAME_SIZE = 14
HEARTBEAT_CHANNEL = 0xFF
UNKNOWN_CHANNEL = -1
FLAG_HIGH_SPEED = 0x01
FLAG_LINE_ERROR = 0x02
_BODY = struct.Struct("<BBII")  # channel, flags, timestamp, word: bytes 2..11
_CRC = struct.Struct("<H")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor); b"123456789" -> 0x29B1."""
    return binascii.crc_hqx(data, 0xFFFF)


class Frame(NamedTuple):
    channel: int
    flags: int
    timestamp: int
    word: int

    @property
    def is_heartbeat(self) -> bool:
        return self.channel == HEARTBEAT_CHANNEL

    @property
    def line_error(self) -> bool:
        return bool(self.flags & FLAG_LINE_ERROR)


@dataclass(slots=True)
class ChannelCounters:
    frames: int = 0
    words: int = 0
    parity_errors: int = 0
    line_errors: int = 0
    crc_errors: int = 0
    resyncs: int = 0

    def add(self, other: ChannelCounters) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


Counters = dict[int, ChannelCounters]


def add_counters(total: Counters, increment: Counters) -> None:
    for channel, counters in increment.items():
        total.setdefault(channel, ChannelCounters()).add(counters)


def sum_counters(counters: Counters) -> ChannelCounters:
    total = ChannelCounters()
    for c in counters.values():
        total.add(c)
    return total


def crc_channel(channel_byte: int) -> int:
    """Who a bad-CRC frame is charged to: its channel byte if that is plausible, else UNKNOWN_CHANNEL."""
    return channel_byte if channel_byte <= 7 or channel_byte == HEARTBEAT_CHANNEL else UNKNOWN_CHANNEL


def encode_frame(channel: int, word: int, timestamp_us: int = 0, flags: int = FLAG_HIGH_SPEED) -> bytes:
    """One adapter frame. The timestamp wraps at 2**32 like the adapter's free-running counter."""
    body = _BODY.pack(channel & 0xFF, flags & 0xFF, timestamp_us & 0xFFFFFFFF, word & 0xFFFFFFFF)
    return SYNC + body + _CRC.pack(crc16(body))


def heartbeat_frame(timestamp_us: int = 0) -> bytes:
    """The adapter's once-a-second sign of life when no word arrived: channel 0xFF, word 0."""
    return encode_frame(HEARTBEAT_CHANNEL, 0, timestamp_us, 0)


class FrameParser:
    """Frame-by-frame parser: the reference behaviour. Keeps a partial frame across feeds; never raises.

    `pending` (bytes kept for the next feed) and `skipped` (bytes were discarded since the last accepted frame)
    are the hunt's whole state; AdapterStream's bulk path continues the same state.
    """

    def __init__(self) -> None:
        self.pending = b""
        self.skipped = False
        self.counters: Counters = {}

    def reset(self) -> None:
        """Forget a partial frame (after the device was reopened). Counters stay."""
        self.pending = b""
        self.skipped = False

    def feed(self, data: bytes, counters: Counters | None = None) -> list[Frame]:
        """The frames completed by `data`, in order; counts into `counters` (default: self.counters)."""
        if counters is None:
            counters = self.counters
        buf = self.pending + bytes(data)
        n = len(buf)
        pos = 0
        out: list[Frame] = []
        while True:
            p = buf.find(SYNC, pos)
            if p < 0:
                keep = n - 1 if n > pos and buf[n - 1] == 0x5A else n
                self.skipped |= keep > pos
                self.pending = buf[keep:]
                return out
            self.skipped |= p > pos
            if p + FRAME_SIZE > n:
                self.pending = buf[p:]
                return out
            body = buf[p + 2 : p + 12]
            if crc16(body) == _CRC.unpack_from(buf, p + 12)[0]:
                frame = Frame(*_BODY.unpack(body))
                count = _counters_of(counters, frame.channel)
                count.frames += 1
                if frame.channel != HEARTBEAT_CHANNEL:
                    count.words += 1
                    count.parity_errors += not parity_ok(frame.word)
                    count.line_errors += frame.line_error
                if self.skipped:
                    count.resyncs += 1
                    self.skipped = False
                out.append(frame)
                pos = p + FRAME_SIZE
            else:
                _counters_of(counters, crc_channel(buf[p + 2])).crc_errors += 1
                self.skipped = True
                pos = p + 1


def _counters_of(counters: Counters, channel: int) -> ChannelCounters:
    found = counters.get(channel)
    if found is None:
        found = counters[channel] = ChannelCounters()
    return found
