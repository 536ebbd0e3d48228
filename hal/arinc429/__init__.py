"""ARINC 429: the word codec, the label table, the serial adapter's frames, and a fast bulk decoder.

Public API (stable: added to, never renamed):

Words (word.py), a word is an int with the spec's bit 1 in the least significant bit:
    decode(word, channel=0) -> DecodedWord(channel, label "203", sdi, name, value, units, status, error, word)
        status: "normal" | "no_computed_data" | "functional_test" | "failure_warning"; error: None | "parity"
        (value None then). DecodedWord.as_contract() -> the `appliance decode` JSON dict.
    encode(name_or_label, value, sdi=0, status="normal") -> int (with odd parity)
    encode_flight_id("IB3456") -> 4 words (233-236); encode_flight_information(number, origin, dest) -> 7 words
    parity_ok(word), with_parity(word), label_of(word), REVERSE (256-entry bit reversal table)
Labels (labels.py, data in labels.csv): LABELS, BY_LABEL["203"], BY_NAME["altitude"], spec_for(x) -> LabelSpec
    (name, label, format, layout, sig_bits, range, signed, units, display, min/max_interval_ms, lsb,
    stale_after_s = 3 x max interval).
Frames (frame.py): encode_frame(channel, word, timestamp_us=0, flags=FLAG_HIGH_SPEED) -> 14 bytes,
    heartbeat_frame(timestamp_us), crc16(bytes), FrameParser (frame by frame: feed(bytes, counters=None) ->
    list[Frame], .counters, .reset()), ChannelCounters(frames, words, parity_errors, line_errors, crc_errors, resyncs);
    counters are keyed by channel int: 0-7, HEARTBEAT_CHANNEL 0xFF, UNKNOWN_CHANNEL -1 (a bad CRC with an
    impossible channel byte).
Bulk (stream.py, bulk.py): AdapterStream(keep_words=False, small=1024, bulk=True).feed(bytes) -> Batch(counters
    (this chunk's increments), alive, latest {(channel, label, sdi): DecodedWord} (good parity, label 360 excluded),
    flight_information [FlightInformation(channel, flight_number, origin, destination)],
    flight_ids [FlightId(channel, sdi, flight_id)], words (keep_words: every word in order));
    .totals, .reset() after a reopen, .flush() at the end of a recording. Reads of >= `small` bytes go through
    numpy (about 7.7M words/s per core in 64 KiB reads, 1.7M in 4 KiB; a stream in step takes a shorter path
    than one that must hunt for frames), shorter ones frame by frame (less fixed cost); all
    give identical results. A label 360 block is reported when the next block's initial word confirms it.
    numpy is imported by bulk.py alone: with bulk=False every read goes frame by frame until .use_bulk();
    load_bulk() imports it (any thread), bulk_loaded() tells whether it has been.
Multi-word (blocks.py): FlightInfoAssembler, FlightIdAssembler (used by AdapterStream).
Captures (capture.py): MAGIC, CaptureWriter(stream).write(seconds, data), read_records(stream), is_capture(head).
"""

from hal.arinc429.batch import Batch
from hal.arinc429.blocks import FlightId, FlightIdAssembler, FlightInfoAssembler, FlightInformation
from hal.arinc429.capture import MAGIC, CaptureError, CaptureWriter, Record, is_capture, read_records
from hal.arinc429.frame import (
    FLAG_HIGH_SPEED,
    FLAG_LINE_ERROR,
    FRAME_SIZE,
    HEARTBEAT_CHANNEL,
    SYNC,
    UNKNOWN_CHANNEL,
    ChannelCounters,
    Counters,
    Frame,
    FrameParser,
    add_counters,
    crc16,
    encode_frame,
    heartbeat_frame,
    sum_counters,
)
from hal.arinc429.labels import BY_LABEL, BY_NAME, LABELS, LabelSpec, spec_for
from hal.arinc429.stream import AdapterStream, bulk_loaded, load_bulk
from hal.arinc429.word import (
    REVERSE,
    STATUSES,
    DecodedWord,
    decode,
    encode,
    encode_flight_id,
    encode_flight_information,
    label_of,
    parity_ok,
    with_parity,
)

__all__ = [
    "BY_LABEL",
    "BY_NAME",
    "FLAG_HIGH_SPEED",
    "FLAG_LINE_ERROR",
    "FRAME_SIZE",
    "HEARTBEAT_CHANNEL",
    "LABELS",
    "MAGIC",
    "REVERSE",
    "STATUSES",
    "SYNC",
    "UNKNOWN_CHANNEL",
    "AdapterStream",
    "Batch",
    "CaptureError",
    "CaptureWriter",
    "ChannelCounters",
    "Counters",
    "DecodedWord",
    "FlightId",
    "FlightIdAssembler",
    "FlightInfoAssembler",
    "FlightInformation",
    "Frame",
    "FrameParser",
    "LabelSpec",
    "Record",
    "add_counters",
    "bulk_loaded",
    "crc16",
    "decode",
    "encode",
    "encode_flight_id",
    "encode_flight_information",
    "encode_frame",
    "heartbeat_frame",
    "is_capture",
    "label_of",
    "load_bulk",
    "parity_ok",
    "read_records",
    "spec_for",
    "sum_counters",
    "with_parity",
]
