"""The numpy bulk path equals the frame-by-frame path; label 360 blocks and 233-236 flight ids assemble."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.arinc429 import (
    LABELS,
    REVERSE,
    AdapterStream,
    DecodedWord,
    FlightIdAssembler,
    FlightInfoAssembler,
    FlightInformation,
    FrameParser,
    decode,
    encode,
    encode_flight_id,
    encode_flight_information,
    encode_frame,
    heartbeat_frame,
    with_parity,
)
from hal.arinc429.bulk import BulkPath
from hal.arinc429.frame import FLAG_HIGH_SPEED, FLAG_LINE_ERROR
from hal.arinc429.stream import SMALL_CHUNK

CODES = sorted({spec.code for spec in LABELS} | {0o001, 0o377})


def _word(code: int, data: int, fix_parity: bool) -> int:
    word = (data & 0xFFFFFF00) | REVERSE[code]
    return with_parity(word) if fix_parity else word


frame_word = st.builds(
    _word, st.sampled_from(CODES), st.integers(0, 2**32 - 1), st.booleans().map(lambda b: not b) | st.just(True)
)
channel = st.integers(0, 3)


@st.composite
def segment(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["frame", "frame", "frame", "garbage", "corrupt", "cut", "heartbeat", "block", "id",
                                 "flagged"]))
    ts = draw(st.integers(0, 2**32 - 1))
    if kind == "frame":
        return encode_frame(draw(channel), draw(frame_word), ts)
    if kind == "flagged":  # the adapter saw a gap or bit-length error on this word
        return encode_frame(draw(channel), draw(frame_word), ts, FLAG_HIGH_SPEED | FLAG_LINE_ERROR)
    if kind == "garbage":
        return draw(st.binary(max_size=20) | st.sampled_from([b"\x5a", b"\x5a\xa5", b"\xa5\x5a\xa5"]))
    if kind == "heartbeat":
        return heartbeat_frame(ts)
    if kind in ("corrupt", "cut"):
        frame = bytearray(encode_frame(draw(channel), draw(frame_word), ts))
        if kind == "cut":
            return bytes(frame[: draw(st.integers(1, 13))])
        frame[draw(st.integers(0, 13))] ^= draw(st.integers(1, 255))
        return bytes(frame)
    ch = draw(channel)
    if kind == "id":
        words = encode_flight_id(draw(st.sampled_from(["IB3456", "VY1234", "AB"])))
    else:
        words = encode_flight_information(
            draw(st.sampled_from(["IB3456", "UX77"])), "LEBL", draw(st.sampled_from(["LEMD", "EGLL"]))
        )
        if draw(st.booleans()):  # lose or repeat a word
            i = draw(st.integers(0, 6))
            words = words[:i] + words[i + 1 :] if draw(st.booleans()) else words[: i + 1] + words[i:]
    return b"".join(encode_frame(ch, w, ts) for w in words)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _reference(chunks: list[bytes]) -> dict[str, Any]:
    """Frame by frame: FrameParser, decode() per word, the assemblers fed in order."""
    parser = FrameParser()
    info, ids = FlightInfoAssembler(), FlightIdAssembler()
    words: list[DecodedWord] = []
    latest: dict[tuple[int, str, int], DecodedWord] = {}
    infos: list[FlightInformation] = []
    last_id: dict[tuple[int, int], str] = {}
    for chunk in chunks:
        for frame in parser.feed(chunk):
            if frame.is_heartbeat:
                continue
            decoded = decode(frame.word, frame.channel)
            if frame.line_error and decoded.error is None:
                decoded = decoded._replace(value=None, error="line")
            if decoded.error is None and decoded.label == "360":
                done = info.feed(frame.channel, frame.word)
                if done is not None:
                    infos.append(done)
                    words.append(done.as_word())
                continue
            words.append(decoded)
            if decoded.error is None:
                latest[(decoded.channel, decoded.label, decoded.sdi)] = decoded
                if decoded.name == "flight_id" and decoded.status == "normal":
                    got = ids.feed(frame.channel, frame.word)
                    if got is not None:
                        last_id[(got.channel, got.sdi)] = got.flight_id
    return {"counters": parser.counters, "words": words, "latest": latest, "infos": infos, "ids": last_id}


def _bulk(chunks: list[bytes], keep_words: bool, small: int) -> dict[str, Any]:
    stream = AdapterStream(keep_words=keep_words, small=small)
    words: list[DecodedWord] = []
    latest: dict[tuple[int, str, int], DecodedWord] = {}
    infos: list[FlightInformation] = []
    last_id: dict[tuple[int, int], str] = {}
    for chunk in chunks:
        batch = stream.feed(chunk)
        words += batch.words
        latest.update(batch.latest)
        infos += batch.flight_information
        last_id.update({(i.channel, i.sdi): i.flight_id for i in batch.flight_ids})
        assert batch.alive == any(c.frames for c in batch.counters.values())
    return {"counters": stream.totals, "words": words, "latest": latest, "infos": infos, "ids": last_id}


@settings(max_examples=200, deadline=None)
@given(st.lists(segment(), max_size=40), st.lists(st.integers(0, 10_000), max_size=8))
def test_bulk_path_equals_frame_by_frame(segments: list[bytes], cuts: list[int]) -> None:
    chunks = _chunks(b"".join(segments), cuts)
    reference = _reference(chunks)
    for small in (0, 64, SMALL_CHUNK, 1 << 30):  # numpy always, mixed, default, frame by frame always
        every = _bulk(chunks, keep_words=True, small=small)
        assert every == reference
        fast = _bulk(chunks, keep_words=False, small=small)
        assert fast["words"] == []
        for key in ("counters", "latest", "infos", "ids"):
            assert fast[key] == reference[key], (key, small)


@settings(max_examples=100, deadline=None)
@given(st.lists(segment(), max_size=40), st.lists(st.integers(0, 10_000), max_size=8), st.integers(0, 9))
def test_a_stream_switched_to_bulk_between_reads_equals_frame_by_frame(
    segments: list[bytes], cuts: list[int], switch: int
) -> None:
    """The live reader's start: frame by frame (bulk=False) until READY, then numpy, mid-stream."""
    chunks = _chunks(b"".join(segments), cuts)
    reference = _reference(chunks)
    stream = AdapterStream(keep_words=True, small=0, bulk=False)
    words: list[DecodedWord] = []
    for n, chunk in enumerate(chunks):
        if n == switch:
            stream.use_bulk()
        assert (stream.bulk is not None) == (n >= switch)
        words += stream.feed(chunk).words
    assert stream.totals == reference["counters"]
    assert words == reference["words"]


def test_latest_per_channel_label_and_sdi() -> None:
    data = b"".join(
        encode_frame(ch, encode("altitude", alt, sdi=sdi))
        for alt in (1000, 2000, 3000)
        for ch in (0, 1)
        for sdi in (0, 2)
    )
    data += encode_frame(0, encode("altitude", 9999) ^ 1 << 12)  # bad parity: counted, not latest
    batch = AdapterStream(small=0).feed(data)
    assert set(batch.latest) == {(0, "203", 0), (0, "203", 2), (1, "203", 0), (1, "203", 2)}
    assert all(word.value == 3000.0 for word in batch.latest.values())
    assert batch.counters[0].parity_errors == 1
    assert batch.word_count == 13


def _block_frames(channel: int, words: list[int]) -> bytes:
    return b"".join(encode_frame(channel, w) for w in words)


def test_block_assembles_and_survives_a_lost_or_repeated_word() -> None:
    good = encode_flight_information("IB3456", "LEBL", "LEMD")
    other = encode_flight_information("UX1090", "LEMD", "EGKK")
    stream = AdapterStream()
    assert stream.feed(_block_frames(0, good)).flight_information == []  # confirmed by the next initial word
    batch = stream.feed(_block_frames(0, good[:3] + good[4:]))  # one word lost
    assert batch.flight_information == [FlightInformation(0, "IB3456", "LEBL", "LEMD")]
    batch = stream.feed(_block_frames(0, other[:3] + other[2:]))  # the lost-word block is dropped
    assert batch.flight_information == []
    batch = stream.feed(_block_frames(0, other))  # the duplicated-word block is dropped too
    assert batch.flight_information == []
    batch = stream.feed(_block_frames(0, good[:1]))
    assert batch.flight_information == [FlightInformation(0, "UX1090", "LEMD", "EGKK")]
    assert stream.flush().flight_information == []  # an initial word alone is not a block


def test_block_data_words_without_an_initial_word_are_ignored() -> None:
    good = encode_flight_information("IB3456", "LEBL", "LEMD")
    stream = AdapterStream()
    stream.feed(_block_frames(1, good[1:] + good))
    assert stream.flush().flight_information == [FlightInformation(1, "IB3456", "LEBL", "LEMD")]


def test_flight_id_assembles_from_233_to_236() -> None:
    stream = AdapterStream()
    words = encode_flight_id("IB3456", sdi=1)
    assert stream.feed(_block_frames(0, words[:3])).flight_ids == []
    batch = stream.feed(_block_frames(0, words[3:]))
    assert [(i.channel, i.sdi, i.flight_id) for i in batch.flight_ids] == [(0, 1, "IB3456")]
    again = stream.feed(_block_frames(0, words))
    assert again.flight_ids == []  # unchanged: not reported again
    assert again.latest[(0, "233", 1)].value == "IB"
    failed = encode_flight_id("ZZ9999", sdi=1, status="failure_warning")
    assert stream.feed(_block_frames(0, failed)).flight_ids == []  # only normal words make the id


def test_reset_drops_a_partial_frame() -> None:
    frame = encode_frame(0, encode("altitude", 100))
    stream = AdapterStream()
    stream.feed(frame[:9])
    stream.reset()
    batch = stream.feed(frame)
    assert batch.counters[0].frames == 1
    assert batch.counters[0].resyncs == 0


def test_a_word_the_adapter_flagged_is_counted_and_never_used() -> None:
    """Two flipped bits keep the parity right: only the adapter's flag tells the word is bad."""
    good = encode("203", 35000.0)
    bad = good ^ (0b11 << 20)  # a different altitude, parity still odd
    assert decode(bad).error is None and decode(bad).value != decode(good).value
    data = encode_frame(0, good) + encode_frame(0, bad, 1, FLAG_HIGH_SPEED | FLAG_LINE_ERROR)
    for small in (0, 1 << 30):  # the numpy path and the frame-by-frame path
        batch = AdapterStream(small=small).feed(data)
        assert batch.latest[(0, "203", 0)].value == 35000.0
        assert batch.counters[0].line_errors == 1 and batch.counters[0].parity_errors == 0
        every = AdapterStream(keep_words=True, small=small).feed(data).words
        assert [w.as_contract() for w in every][1] == {"channel": 0, "label": "203", "error": "line"}


@st.composite
def in_step_stream(draw: st.DrawFn) -> bytes:
    """What the adapter sends when nothing goes wrong: whole frames back to back (heartbeats, flagged words, bad
    parity, blocks, flight ids included), maybe after a partial frame or garbage with no sync pair in it."""
    segments = [s for s in draw(st.lists(segment(), min_size=1, max_size=60)) if _whole_frames(s)]
    lead = draw(st.binary(max_size=13).filter(lambda b: b"\x5a\xa5" not in b and not b.endswith(b"\x5a")))
    return lead + b"".join(segments)


def _whole_frames(data: bytes) -> bool:
    return len(data) % 14 == 0 and all(
        data[i : i + 2] == b"\x5a\xa5" and len(FrameParser().feed(data[i : i + 14])) == 1
        for i in range(0, len(data), 14)
    )


class _CountingBulk(BulkPath):
    hunts = 0

    def _hunt_all(self, buf: bytes, batch: Any) -> Any:
        frames = super()._hunt_all(buf, batch)
        self.hunts += frames is not None
        return frames


class _CountingStream(AdapterStream):
    """Counts the reads whose frames the general hunt found (so a test can say the in-step path was taken)."""

    def use_bulk(self) -> None:
        self.bulk = self.counting = _CountingBulk(self)

    @property
    def hunts(self) -> int:
        return self.counting.hunts


@settings(max_examples=200, deadline=None)
@given(in_step_stream(), st.lists(st.integers(0, 10_000), max_size=8), st.booleans())
def test_a_stream_in_step_takes_the_short_path_and_equals_frame_by_frame(
    data: bytes, cuts: list[int], keep_words: bool
) -> None:
    chunks = _chunks(data, cuts)
    reference = _reference(chunks)
    stream = _CountingStream(keep_words=keep_words, small=0)
    words: list[DecodedWord] = []
    latest: dict[tuple[int, str, int], DecodedWord] = {}
    for chunk in chunks:
        batch = stream.feed(chunk)
        words += batch.words
        latest.update(batch.latest)
    assert stream.totals == reference["counters"]
    assert latest == reference["latest"]
    if keep_words:
        assert words == reference["words"]
    assert stream.hunts == 0


def test_one_bad_frame_in_a_stream_in_step_goes_through_the_hunt() -> None:
    frames = [encode_frame(0, encode("altitude", 1000.0 * i)) for i in range(40)]
    corrupt = bytearray(frames[20])
    corrupt[9] ^= 0x10  # the CRC no longer checks
    data = b"".join(frames[:20]) + bytes(corrupt) + b"".join(frames[21:])
    stream = _CountingStream(small=0)
    batch = stream.feed(data)
    assert stream.hunts == 1
    assert batch.counters[0].crc_errors == 1 and batch.counters[0].resyncs == 1
    assert batch.counters[0].words == 39
    assert batch.latest[(0, "203", 0)].value == 39000.0
