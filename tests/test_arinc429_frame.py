"""The adapter frame and the frame-by-frame parser: CRC, sync hunt, resync, counters, splits at every offset."""

from __future__ import annotations

import itertools
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.arinc429 import (
    HEARTBEAT_CHANNEL,
    UNKNOWN_CHANNEL,
    AdapterStream,
    ChannelCounters,
    Frame,
    FrameParser,
    crc16,
    encode,
    encode_frame,
    heartbeat_frame,
)


def _frames(count: int, seed: int = 7) -> list[tuple[bytes, Frame]]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        channel = rnd.randrange(2)
        word = encode("altitude", rnd.randrange(-1000, 40000), sdi=rnd.randrange(4))
        out.append((encode_frame(channel, word, 1000 * i), Frame(channel, 1, 1000 * i, word)))
    return out


def _parse_all(chunks: list[bytes]) -> tuple[list[Frame], dict[int, ChannelCounters]]:
    parser = FrameParser()
    frames: list[Frame] = []
    for chunk in chunks:
        frames += parser.feed(chunk)
    return frames, parser.counters


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_frame_layout() -> None:
    frame = encode_frame(3, 0x12345678, 0xAABBCCDD, flags=0x01)
    assert len(frame) == 14
    assert frame[:2] == b"\x5a\xa5"
    assert frame[2:4] == b"\x03\x01"
    assert struct.unpack_from("<II", frame, 4) == (0xAABBCCDD, 0x12345678)
    assert struct.unpack_from("<H", frame, 12)[0] == crc16(frame[2:12])
    assert encode_frame(0, 1, 2**32 + 5)[4:8] == struct.pack("<I", 5)  # the timestamp wraps
    heartbeat = heartbeat_frame(7)
    assert heartbeat[2] == 0xFF
    assert heartbeat[8:12] == b"\0\0\0\0"


def test_split_at_every_offset() -> None:
    pieces = _frames(6)
    data = b"\x01\x5a" + pieces[0][0] + pieces[1][0] + b"\x5a\xa5\x00" + b"".join(p for p, _ in pieces[2:])
    expected = [f for _, f in pieces]
    whole, whole_counters = _parse_all([data])
    assert whole == expected
    for offset in range(len(data) + 1):
        assert _parse_all([data[:offset], data[offset:]]) == (whole, whole_counters), offset
    assert _parse_all([data[i : i + 1] for i in range(len(data))]) == (whole, whole_counters)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    frames, counters = _parse_all(chunks)
    stream = AdapterStream(keep_words=True)
    for chunk in chunks:
        stream.feed(chunk)
    assert stream.totals == counters
    assert sum(c.frames for c in counters.values()) == len(frames)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_every_valid_frame_after_garbage_is_found(garbage: bytes, count: int, seed: int) -> None:
    pieces = _frames(count, seed)
    frames, _counters = _parse_all([garbage + b"".join(p for p, _ in pieces)])
    assert frames[-count:] == [f for _, f in pieces]


def test_truncated_frames_are_skipped_and_a_trailing_one_is_kept() -> None:
    pieces = _frames(4)
    for cut in range(1, 14):
        data = pieces[0][0][:cut] + pieces[1][0] + pieces[2][0][:cut]
        parser = FrameParser()
        assert parser.feed(data) == [pieces[1][1]]
        assert parser.feed(pieces[2][0][cut:] + pieces[3][0]) == [pieces[2][1], pieces[3][1]]


def test_counters_resync_crc_and_heartbeat() -> None:
    good = encode_frame(1, encode("altitude", 100), 5)
    bad_word = bytearray(encode_frame(1, encode("altitude", 200), 6))
    bad_word[9] ^= 0x40
    bad_channel = bytearray(encode_frame(0, encode("altitude", 300), 7))
    bad_channel[2] = 0x42
    parity = encode_frame(0, encode("altitude", 400) ^ 1 << 20, 8)
    data = b"\x00\x17" + good + bytes(bad_word) + good + bytes(bad_channel) + heartbeat_frame(9) + parity
    frames, counters = _parse_all([data])
    assert len(frames) == 4
    assert counters[1] == ChannelCounters(frames=2, words=2, parity_errors=0, crc_errors=1, resyncs=2)
    assert counters[UNKNOWN_CHANNEL] == ChannelCounters(crc_errors=1)
    assert counters[HEARTBEAT_CHANNEL] == ChannelCounters(frames=1, resyncs=1)
    assert counters[0] == ChannelCounters(frames=1, words=1, parity_errors=1)


def test_sync_pattern_inside_a_frame_is_not_examined() -> None:
    word = 0xA55A0000 | encode("altitude", 0) & 0xFFFF  # the word's bytes hold 5A A5
    data = encode_frame(0, word) * 3
    frames, counters = _parse_all([data])
    assert len(frames) == 3
    assert counters[0].crc_errors == 0
    assert counters[0].resyncs == 0


def test_valid_looking_frame_inside_an_accepted_frame_is_not_a_frame() -> None:
    """Build F whose timestamp+word bytes are the head of a CRC-valid frame G (G's word ends past F)."""
    g_head = b"\x5a\xa5\x02\x01\x11\x22\x33\x44"  # sync, channel 2, flags, timestamp
    f_body = b"\x00\x01" + g_head  # F: channel 0, flags 1, then 8 bytes of G's head
    f = b"\x5a\xa5" + f_body + struct.pack("<H", crc16(f_body))
    g_word_low = f[12:14]
    g_body = g_head[2:] + g_word_low + b"\x00\x00"
    tail = b"\x00\x00" + struct.pack("<H", crc16(g_body))
    assert crc16((f + tail)[6:16]) == struct.unpack("<H", (f + tail)[16:18])[0]  # G really is valid
    after = encode_frame(1, encode("altitude", 5))
    data = f + tail + after
    frames, counters = _parse_all([data])
    assert [fr.channel for fr in frames] == [0, 1]
    assert counters[1].resyncs == 1
    assert 2 not in counters
    stream = AdapterStream(keep_words=True)
    assert [w.channel for w in stream.feed(data).words] == [0, 1]
    assert stream.totals == counters
    # Starting after F's sync, G is the first valid frame the hunt meets: then it is a frame.
    frames, _ = _parse_all([data[1:]])
    assert [fr.channel for fr in frames] == [2, 1]
