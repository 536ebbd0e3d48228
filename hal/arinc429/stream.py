"""The fast path: a whole read of adapter bytes at once, vectorised with numpy.

`AdapterStream.feed(chunk)` finds, checks and counts every frame of the chunk exactly as the frame-by-frame
`FrameParser` would (same hunt, same counters: see frame.py), then decodes in Python only the latest word per
(channel, label, SDI), which is all a flight state needs. Label 360 words go through the block assembler and
233-236 through the flight id assembler. With `keep_words=True` (for `appliance decode`) it also decodes every
word in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from hal.arinc429.blocks import (
    BLOCK_LABEL,
    FLIGHT_ID_LABELS,
    FlightId,
    FlightIdAssembler,
    FlightInfoAssembler,
    FlightInformation,
)
from hal.arinc429.frame import (
    FLAG_LINE_ERROR,
    FRAME_SIZE,
    HEARTBEAT_CHANNEL,
    ChannelCounters,
    Counters,
    FrameParser,
    add_counters,
    crc_channel,
)
from hal.arinc429.labels import BY_CODE
from hal.arinc429.word import REVERSE, DecodedWord, decode

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]


def _crc_tables() -> tuple[U32, U32]:
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
    table16 = ((first << 8) & 0xFFFF) ^ table[first >> 8]
    return table, table16


_CRC_TABLE, _CRC_TABLE16 = _crc_tables()
_PARITY8 = np.array([bin(b).count("1") & 1 for b in range(256)], dtype=np.uint8)
_REVERSE = np.array(REVERSE, dtype=np.int64)
#: Per label number: 1 when bits 9-10 are an SDI (so part of the flight-state key).
_HAS_SDI = np.array([1 if spec is None or spec.has_sdi else 0 for spec in BY_CODE], dtype=np.int64)
_IS_FLIGHT_ID = np.isin(np.arange(256), FLIGHT_ID_LABELS)
#: Channel byte of a bad-CRC frame -> the channel its CRC error is charged to (frame.crc_channel).
_CRC_CHANNEL = np.array([crc_channel(byte) for byte in range(256)], dtype=np.int64)
_BODY_OFFSETS = np.arange(2, 12, dtype=np.int64)
_WORD_OFFSETS = np.arange(8, 12, dtype=np.int64)
_NORMAL_SSM = 3  # 233-236 use the BNR status matrix
#: Below this many bytes a read is parsed frame by frame: numpy's fixed cost per call outweighs its speed.
SMALL_CHUNK = 1024


def _crc16(bodies: U8) -> U32:
    """CRC-16/CCITT-FALSE of each row (10 bytes) at once, 16 bits per step."""
    pairs = np.ascontiguousarray(bodies).view(">u2").astype(np.uint32)
    crc = np.full(bodies.shape[0], 0xFFFF, dtype=np.uint32)
    for j in range(pairs.shape[1]):
        crc = _CRC_TABLE16[crc ^ pairs[:, j]]
    return crc


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


def _bincount(channels: I64) -> dict[int, int]:
    """Occurrences per channel (UNKNOWN_CHANNEL -1 included)."""
    if channels.size == 0:
        return {}
    counts = np.bincount(channels + 1)
    return {int(c) - 1: int(counts[c]) for c in np.flatnonzero(counts)}


@dataclass
class Batch:
    """What one chunk of bytes brought."""

    counters: Counters = field(default_factory=dict)  # increments of this chunk, per channel
    alive: bool = False  # any frame (heartbeats included) arrived
    latest: dict[tuple[int, str, int], DecodedWord] = field(default_factory=dict)  # (channel, label, sdi)
    flight_information: list[FlightInformation] = field(default_factory=list)  # completed 360 blocks
    flight_ids: list[FlightId] = field(default_factory=list)  # 233-236 assembled, when it changed
    words: list[DecodedWord] = field(default_factory=list)  # keep_words only: every word in order

    @property
    def word_count(self) -> int:
        return sum(c.words for c in self.counters.values())


class AdapterStream:
    """Bulk parser and decoder of the adapter's byte stream. Keeps a partial frame across feeds; never raises.

    `latest` holds words with good parity that the adapter did not flag only (label 360 words excepted: see
    `flight_information`). With keep_words, `words` holds every word in order: parity errors (error="parity")
    and flagged words (error="line") included, label 360 data
    words replaced by one entry per completed block (name "flight_information", value a dict).
    """

    def __init__(self, keep_words: bool = False, small: int = SMALL_CHUNK) -> None:
        self.keep_words = keep_words
        self.small = small  # reads shorter than this (bytes) take the frame-by-frame path: less fixed cost
        self.totals: Counters = {}
        self.flight_info = FlightInfoAssembler()
        self.flight_id = FlightIdAssembler()
        self._hunt = FrameParser()  # the hunt's state (pending bytes, skipped), shared by both paths

    def reset(self) -> None:
        """Forget a partial frame (after the device was reopened). Counters and assemblers stay."""
        self._hunt.reset()

    def flush(self) -> Batch:
        """At the end of a recording: the label 360 blocks that were complete but not yet confirmed."""
        batch = Batch(flight_information=self.flight_info.flush())
        if self.keep_words:
            batch.words = [info.as_word() for info in batch.flight_information]
        return batch

    def feed(self, data: bytes) -> Batch:
        batch = Batch()
        if len(self._hunt.pending) + len(data) < self.small:
            frames = self._hunt.feed(data, batch.counters)
            batch.alive = bool(frames)
            words = [f for f in frames if f.channel != HEARTBEAT_CHANNEL]
            self._decode_each([f.channel for f in words], [f.word for f in words], [f.line_error for f in words],
                              batch)
        else:
            self._bulk(self._hunt.pending + bytes(data), batch)
        add_counters(self.totals, batch.counters)
        return batch

    def _bulk(self, buf: bytes, batch: Batch) -> None:
        a = np.frombuffer(buf, dtype=np.uint8)
        n = a.size
        cand = np.flatnonzero((a[:-1] == 0x5A) & (a[1:] == 0xA5)).astype(np.int64) if n >= 2 else _EMPTY
        complete = cand[cand + FRAME_SIZE <= n]
        bodies = a[complete[:, None] + _BODY_OFFSETS]
        stored = a[complete + 12].astype(np.uint32) | a[complete + 13].astype(np.uint32) << 8
        ok = _crc16(bodies) == stored
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
        self._hunt.pending = buf[keep:]

        if acc.size:
            prev_end = np.empty_like(acc)
            prev_end[0] = 0
            prev_end[1:] = acc[:-1] + FRAME_SIZE
            resync = acc > prev_end
            resync[0] |= self._hunt.skipped
            self._hunt.skipped = keep > last_end
            self._frames(a, acc, resync, batch)
        else:
            self._hunt.skipped = self._hunt.skipped or keep > 0

    def _frames(self, a: U8, acc: I64, resync: npt.NDArray[np.bool_], batch: Batch) -> None:
        batch.alive = True
        ch = a[acc + 2].astype(np.int64)
        words: U32 = np.ascontiguousarray(a[acc[:, None] + _WORD_OFFSETS]).view("<u4").ravel().astype(np.uint32)
        folded = words ^ (words >> 16)
        folded ^= folded >> 8
        parity_ok = _PARITY8[folded & 0xFF].astype(bool)
        is_word = ch != HEARTBEAT_CHANNEL
        for channel, count in _bincount(ch).items():
            counters = batch.counters.setdefault(channel, ChannelCounters())
            counters.frames += count
            if channel != HEARTBEAT_CHANNEL:
                counters.words += count
        if not parity_ok.all():
            for channel, count in _bincount(ch[is_word & ~parity_ok]).items():
                batch.counters[channel].parity_errors += count
        line_error = is_word & (a[acc + 3] & FLAG_LINE_ERROR != 0)
        if line_error.any():
            for channel, count in _bincount(ch[line_error]).items():
                batch.counters[channel].line_errors += count
        if resync.any():
            for channel, count in _bincount(ch[resync]).items():
                batch.counters[channel].resyncs += count
        if self.keep_words:
            self._decode_each(ch[is_word].tolist(), words[is_word].tolist(), line_error[is_word].tolist(), batch)
            return
        code = _REVERSE[(words & 0xFF).astype(np.int64)]
        usable = is_word & parity_ok & ~line_error
        block = usable & (code == BLOCK_LABEL)
        for channel, word in zip(ch[block].tolist(), words[block].tolist(), strict=True):
            info = self.flight_info.feed(channel, word)
            if info is not None:
                batch.flight_information.append(info)
        wire_sdi = (words.astype(np.int64) >> 8) & 3
        key = ch << 10 | code << 2 | wire_sdi * _HAS_SDI[code]
        for channel, word in _last_per_key(np.flatnonzero(usable & ~block), key, ch, words):
            decoded = decode(word, channel)
            batch.latest[(channel, decoded.label, decoded.sdi)] = decoded
        ids = usable & _IS_FLIGHT_ID[code] & ((words >> 29) & 3 == _NORMAL_SSM)
        for channel, word in _last_per_key(np.flatnonzero(ids), key, ch, words):
            flight_id = self.flight_id.feed(channel, word)
            if flight_id is not None:
                batch.flight_ids.append(flight_id)

    def _decode_each(self, channels: list[int], words: list[int], line_errors: list[bool], batch: Batch) -> None:
        """The per-word path (small reads, `appliance decode`): every word decoded, in order."""
        keep = self.keep_words
        for channel, word, line_error in zip(channels, words, line_errors, strict=True):
            decoded = decode(word, channel)
            if line_error and decoded.error is None:
                decoded = replace(decoded, value=None, error="line")
            if decoded.error is None:
                code = REVERSE[word & 0xFF]
                if code == BLOCK_LABEL:
                    info = self.flight_info.feed(channel, word)
                    if info is not None:
                        batch.flight_information.append(info)
                        if keep:
                            batch.words.append(info.as_word())
                    continue
                batch.latest[(channel, decoded.label, decoded.sdi)] = decoded
                if code in FLIGHT_ID_LABELS and decoded.status == "normal":
                    flight_id = self.flight_id.feed(channel, word)
                    if flight_id is not None:
                        batch.flight_ids.append(flight_id)
            if keep:
                batch.words.append(decoded)


def _last_per_key(idx: I64, key: I64, ch: I64, words: U32) -> zip[tuple[int, int]]:
    """(channel, word) of the last of `idx` for each distinct key, ordered by key."""
    _, first_from_end = np.unique(key[idx][::-1], return_index=True)
    last = idx[idx.size - 1 - first_from_end]
    return zip(ch[last].tolist(), words[last].tolist(), strict=True)


_EMPTY = np.zeros(0, dtype=np.int64)
