"""The bulk path of `AdapterStream` (stream.py): a whole read of adapter bytes at once, vectorised with numpy.

It finds, checks and counts every frame of a read exactly as the frame-by-frame `FrameParser` would (same hunt,
same counters: see frame.py, and the hunt's state is the stream's, shared with the frame-by-frame path), then
decodes in Python only the latest word per (channel, label, SDI), which is all a flight state needs. Label 360
words go through the block assembler and 233-236 through the flight id assembler; with the stream's
`keep_words` every word is decoded in order.

This module is the only one of the codec that imports numpy, and it builds its lookup tables at import (about
0.1-0.2 s with numpy itself): `stream.load_bulk()` imports it, so a live reader can parse frame by frame until
its start is over (appliance/avionics/reader.py).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from hal.arinc429.batch import Batch
from hal.arinc429.blocks import BLOCK_LABEL, FLIGHT_ID_LABELS, FlightIdAssembler, FlightInfoAssembler
from hal.arinc429.frame import (
    FLAG_LINE_ERROR,
    FRAME_SIZE,
    HEARTBEAT_CHANNEL,
    SYNC,
    ChannelCounters,
    FrameParser,
    crc_channel,
)
from hal.arinc429.labels import BY_CODE
from hal.arinc429.word import REVERSE, DecodedWord, decode

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]


def _crc_tables() -> tuple[U32, U16]:
    """CRC-16/CCITT-FALSE tables: one byte at a time, and two bytes (one register width) at a time."""
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table[byte] = crc
    # Two bytes fill the 16-bit register, so crc' = T16[crc ^ next16]: T16[x] is two byte steps from x.
    x = np.arange(65536, dtype=np.uint32)
    first = ((x << 8) & 0xFFFF) ^ table[x >> 8]
    table16 = (((first << 8) & 0xFFFF) ^ table[first >> 8]).astype(np.uint16)
    return table, table16


_CRC_TABLE, _CRC_TABLE16 = _crc_tables()
#: The first step from the initial register 0xFFFF: T16[0xFFFF ^ x].
_CRC_FIRST16 = _CRC_TABLE16[np.arange(65536) ^ 0xFFFF]
#: Parity of each 16-bit half of a word: a word's parity is the xor of its halves'.
_PARITY16 = np.array([bin(b).count("1") & 1 for b in range(256)], dtype=np.uint8)
_PARITY16 = (_PARITY16[np.arange(65536) & 0xFF] ^ _PARITY16[np.arange(65536) >> 8]).astype(bool)
_REVERSE = np.array(REVERSE, dtype=np.int64)
#: Per label number: 1 when bits 9-10 are an SDI (so part of the flight-state key).
_HAS_SDI = np.array([1 if spec is None or spec.has_sdi else 0 for spec in BY_CODE], dtype=np.int64)
#: From a word's low 16 bits (wire label, SDI, 6 data bits): its flight-state key below the channel
#: (label number << 2 | SDI where the label has one) and its kind (a 360 block word, a 233-236 flight id, other).
_LOW = np.arange(65536, dtype=np.int64)
_KEY16 = _REVERSE[_LOW & 0xFF] << 2 | ((_LOW >> 8) & 3) * _HAS_SDI[_REVERSE[_LOW & 0xFF]]
_OTHER, _BLOCK, _FLIGHT_ID = 0, 1, 2
_KIND16 = np.where(_REVERSE[_LOW & 0xFF] == BLOCK_LABEL, _BLOCK,
                   np.where(np.isin(_REVERSE[_LOW & 0xFF], FLIGHT_ID_LABELS), _FLIGHT_ID, _OTHER)).astype(np.uint8)
del _LOW
#: Channel byte of a bad-CRC frame -> the channel its CRC error is charged to (frame.crc_channel).
_CRC_CHANNEL = np.array([crc_channel(byte) for byte in range(256)], dtype=np.int64)
_BODY_OFFSETS = np.arange(2, 14, dtype=np.int64)
_NORMAL_SSM = 3  # 233-236 use the BNR status matrix


def _crc_ok(pairs: U16) -> npt.NDArray[np.bool_]:
    """Per row of six big-endian 16-bit values (frame bytes 2..13): does the CRC of the first five (bytes
    2..11) equal the stored one (bytes 12..13, little-endian, so byte-swapped in this view)?"""
    crc = _CRC_FIRST16[pairs[:, 0]]
    for j in range(1, 5):
        crc = _CRC_TABLE16[crc ^ pairs[:, j]]
    stored = pairs[:, 5]
    ok: npt.NDArray[np.bool_] = crc == ((stored >> 8) | (stored << 8))
    return ok


def _greedy(good: I64) -> I64:
    """Good candidates that do not start inside an earlier accepted frame (the sequential hunt's choice)."""
    if good.size < 2 or bool(np.all(np.diff(good) >= FRAME_SIZE)):
        return good
    accepted: list[int] = []
    end = -1
    for p in good.tolist():
        if p >= end:
            accepted.append(p)
            end = p + FRAME_SIZE
    return np.array(accepted, dtype=np.int64)


def _bincount(channels: npt.NDArray[np.integer]) -> dict[int, int]:
    """Occurrences per channel (UNKNOWN_CHANNEL -1 included)."""
    if channels.size == 0:
        return {}
    counts = np.bincount(channels + 1)
    return {int(c) - 1: int(counts[c]) for c in np.flatnonzero(counts)}


class _Frames(NamedTuple):
    """The accepted frames of one read, as columns."""

    ch: I64  # channel byte
    flags: U8
    lo: U16  # the word's low 16 bits (wire label, SDI, ...)
    hi: U16  # its high 16 bits (..., SSM, parity)
    resync: npt.NDArray[np.bool_] | None  # per frame; None: only the first can be, by `first_resync`
    first_resync: bool


class Stream(Protocol):
    """What the bulk path uses of its `AdapterStream` (stream.py), which imports this module only when asked."""

    keep_words: bool
    hunt: FrameParser
    decoded: dict[int, DecodedWord]
    flight_info: FlightInfoAssembler
    flight_id: FlightIdAssembler

    def decode_each(self, channels: list[int], words: list[int], line_errors: list[bool], batch: Batch) -> None: ...


class BulkPath:
    """The numpy parser of one `AdapterStream`: its hunt state, caches and assemblers are the stream's."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def feed(self, buf: bytes, batch: Batch) -> None:
        """Parse, count and decode `buf` (the hunt's pending bytes and a read) into `batch`."""
        columns = self._in_step(buf, batch)
        if columns is None:
            columns = self._hunt_all(buf, batch)
        if columns is not None:
            self._frames(columns, batch)

    def _in_step(self, buf: bytes, batch: Batch) -> _Frames | None:
        """The usual read of a stream in sync: from the first sync pair on, back-to-back frames that all check.
        Then the hunt would accept exactly these (each next sync pair is where the last frame ended, and no
        candidate lies outside them), so the frames are a reshaped view of the bytes. None otherwise."""
        start = buf.find(SYNC)
        count = (len(buf) - start) // FRAME_SIZE if start >= 0 else 0
        end = start + count * FRAME_SIZE
        if count == 0 or buf[start:end:FRAME_SIZE] != SYNC[:1] * count \
                or buf[start + 1 : end : FRAME_SIZE] != SYNC[1:] * count:
            return None
        pairs = np.frombuffer(buf, dtype=">u2", count=count * 7, offset=start).reshape(count, 7)
        if not _crc_ok(pairs[:, 1:]).all():
            return None
        first_resync = self.stream.hunt.skipped or start > 0
        self.stream.hunt.pending, self.stream.hunt.skipped = b"", False
        self.stream.hunt.feed(buf[end:], batch.counters)  # the partial frame after them: the hunt's own rule
        rows = np.frombuffer(buf, dtype=np.uint8, count=count * FRAME_SIZE, offset=start).reshape(count, FRAME_SIZE)
        little = pairs.view("<u2")
        return _Frames(rows[:, 2].astype(np.int64), rows[:, 3], little[:, 4], little[:, 5], None, first_resync)

    def _hunt_all(self, buf: bytes, batch: Batch) -> _Frames | None:
        """Any read: every sync candidate checked at once, then the sequential hunt's choice among them."""
        a = np.frombuffer(buf, dtype=np.uint8)
        n = a.size
        cand = np.flatnonzero((a[:-1] == 0x5A) & (a[1:] == 0xA5)).astype(np.int64) if n >= 2 else _EMPTY
        complete = cand[cand + FRAME_SIZE <= n]
        body = np.ascontiguousarray(a[complete[:, None] + _BODY_OFFSETS]).view(">u2")
        ok = _crc_ok(body)
        acc = _greedy(complete[ok])
        last_end = int(acc[-1]) + FRAME_SIZE if acc.size else 0

        bad = complete[~ok]
        if bad.size:
            j = np.searchsorted(acc, bad, side="right") - 1
            inside = (j >= 0) & (bad < acc[np.maximum(j, 0)] + FRAME_SIZE) if acc.size else np.zeros(bad.size, bool)
            examined = bad[~inside]
            for channel, count in _bincount(_CRC_CHANNEL[a[examined + 2]]).items():
                batch.counters.setdefault(channel, ChannelCounters()).crc_errors += count

        tail = cand[(cand + FRAME_SIZE > n) & (cand >= last_end)]
        if tail.size:
            keep = int(tail[0])
        elif n > last_end and a[n - 1] == 0x5A:
            keep = n - 1
        else:
            keep = n
        self.stream.hunt.pending = buf[keep:]
        if not acc.size:
            self.stream.hunt.skipped = self.stream.hunt.skipped or keep > 0
            return None
        prev_end = np.empty_like(acc)
        prev_end[0] = 0
        prev_end[1:] = acc[:-1] + FRAME_SIZE
        resync = acc > prev_end
        resync[0] |= self.stream.hunt.skipped
        self.stream.hunt.skipped = keep > last_end
        accepted = body[np.searchsorted(complete, acc)].view("<u2")
        return _Frames(a[acc + 2].astype(np.int64), a[acc + 3], accepted[:, 3], accepted[:, 4], resync, False)

    def _frames(self, f: _Frames, batch: Batch) -> None:
        batch.alive = True
        ch, lo, hi = f.ch, f.lo, f.hi
        parity_ok = _PARITY16[lo] ^ _PARITY16[hi]
        is_word = ch != HEARTBEAT_CHANNEL
        for channel, count in _bincount(ch).items():
            counters = batch.counters.setdefault(channel, ChannelCounters())
            counters.frames += count
            if channel != HEARTBEAT_CHANNEL:
                counters.words += count
        usable = is_word & parity_ok
        if not parity_ok.all():
            for channel, count in _bincount(ch[is_word & ~parity_ok]).items():
                batch.counters[channel].parity_errors += count
        line_error = is_word & (f.flags & FLAG_LINE_ERROR != 0)
        if line_error.any():
            usable &= ~line_error
            for channel, count in _bincount(ch[line_error]).items():
                batch.counters[channel].line_errors += count
        if f.resync is not None and f.resync.any():
            for channel, count in _bincount(ch[f.resync]).items():
                batch.counters[channel].resyncs += count
        elif f.resync is None and f.first_resync:
            batch.counters[int(ch[0])].resyncs += 1
        if self.stream.keep_words:
            words = (lo.astype(np.int64) | hi.astype(np.int64) << 16)[is_word]
            self.stream.decode_each(ch[is_word].tolist(), words.tolist(), line_error[is_word].tolist(), batch)
            return
        kind = _KIND16[lo]
        block = usable & (kind == _BLOCK)
        if block.any():
            usable &= ~block
            for channel, low, high in zip(ch[block].tolist(), lo[block].tolist(), hi[block].tolist(), strict=True):
                info = self.stream.flight_info.feed(channel, low | high << 16)
                if info is not None:
                    batch.flight_information.append(info)
        key = ch << 10 | _KEY16[lo]
        idx = np.flatnonzero(usable)
        last = _last_per_key(idx, key)
        decoded_before = self.stream.decoded
        for k, channel, low, high in zip(key[last].tolist(), ch[last].tolist(), lo[last].tolist(), hi[last].tolist(),
                                         strict=True):
            word = low | high << 16
            decoded = decoded_before.get(k)
            if decoded is None or decoded.word != word:  # decode() depends on (word, channel) only
                decoded = decoded_before[k] = decode(word, channel)
            batch.latest[(channel, decoded.label, decoded.sdi)] = decoded
        ids = np.flatnonzero(usable & (kind == _FLIGHT_ID) & ((hi >> 13) & 3 == _NORMAL_SSM))
        if ids.size:  # a few words a read: the latest per key in Python, fed in key order
            columns = zip(ch[ids].tolist(), lo[ids].tolist(), hi[ids].tolist(), strict=True)
            latest_id = dict(zip(key[ids].tolist(), columns, strict=True))
            for k in sorted(latest_id):
                channel, low, high = latest_id[k]
                flight_id = self.stream.flight_id.feed(channel, low | high << 16)
                if flight_id is not None:
                    batch.flight_ids.append(flight_id)


def _last_per_key(idx: I64, key: I64) -> I64:
    """Of the positions `idx`, the last one of each distinct key, ordered by key."""
    if idx.size == 0:
        return idx
    keys = key[idx]
    order = keys.argsort(kind="stable")  # equal keys keep their order: the last of a run is the latest
    ordered = keys[order]
    last = np.empty(ordered.size, dtype=bool)
    last[-1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=last[:-1])
    return idx[order[last]]


_EMPTY = np.zeros(0, dtype=np.int64)
