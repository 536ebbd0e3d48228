"""A whole read of adapter bytes at once: `AdapterStream.feed(chunk)` -> what the read brought (a `Batch`).

It finds, checks and counts every frame of the read exactly as the frame-by-frame `FrameParser` would (same
hunt, same counters: see frame.py), and hands on only the latest word per (channel, label, SDI), which is all a
flight state needs. Label 360 words go through the block assembler and 233-236 through the flight id
assembler. With `keep_words=True` (for `appliance decode`) it also decodes every word in order.

Reads of `small` bytes or more go through numpy (bulk.py), shorter ones frame by frame: every path gives the
same results. numpy and the bulk path's tables cost 0.1-0.2 s to import, so a stream made with `bulk=False`
parses frame by frame until `use_bulk()` (the live reader calls it once the daemon is READY).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from hal.arinc429.batch import Batch
from hal.arinc429.blocks import BLOCK_LABEL, FLIGHT_ID_LABELS, FlightIdAssembler, FlightInfoAssembler
from hal.arinc429.frame import HEARTBEAT_CHANNEL, Counters, FrameParser, add_counters
from hal.arinc429.word import REVERSE, DecodedWord, decode

if TYPE_CHECKING:
    from hal.arinc429.bulk import BulkPath

#: Below this many bytes a read is parsed frame by frame: numpy's fixed cost per call outweighs its speed.
SMALL_CHUNK = 1024
_BULK_MODULE = "hal.arinc429.bulk"


def load_bulk() -> None:
    """Import the bulk path (numpy and its lookup tables). Safe from any thread; later calls cost nothing."""
    import hal.arinc429.bulk  # noqa: F401


def bulk_loaded() -> bool:
    """Has the bulk path (and so numpy) been imported in this process?"""
    return _BULK_MODULE in sys.modules


class AdapterStream:
    """Parser and decoder of the adapter's byte stream. Keeps a partial frame across feeds; never raises.

    `latest` holds words with good parity that the adapter did not flag only (label 360 words excepted: see
    `flight_information`). With keep_words, `words` holds every word in order: parity errors (error="parity")
    and flagged words (error="line") included, label 360 data
    words replaced by one entry per completed block (name "flight_information", value a dict).

    With `bulk=False` nothing of numpy is imported: every read is parsed frame by frame until `use_bulk()`.
    """

    def __init__(self, keep_words: bool = False, small: int = SMALL_CHUNK, bulk: bool = True) -> None:
        self.keep_words = keep_words
        self.small = small  # reads shorter than this (bytes) take the frame-by-frame path: less fixed cost
        self.totals: Counters = {}
        self.flight_info = FlightInfoAssembler()
        self.flight_id = FlightIdAssembler()
        self.hunt = FrameParser()  # the hunt's state (pending bytes, skipped), shared by both paths
        self.decoded: dict[int, DecodedWord] = {}  # flight-state key -> its last decoded word (a cache)
        self.bulk: BulkPath | None = None
        if bulk:
            self.use_bulk()

    def use_bulk(self) -> None:
        """From now on, reads of `small` bytes or more take the numpy path (imported here if it is not yet).
        Any thread may call it between two feeds or during one: a feed reads `bulk` once."""
        if self.bulk is None:
            from hal.arinc429.bulk import BulkPath

            self.bulk = BulkPath(self)

    def reset(self) -> None:
        """Forget a partial frame (after the device was reopened). Counters and assemblers stay."""
        self.hunt.reset()

    def flush(self) -> Batch:
        """At the end of a recording: the label 360 blocks that were complete but not yet confirmed."""
        batch = Batch(flight_information=self.flight_info.flush())
        if self.keep_words:
            batch.words = [info.as_word() for info in batch.flight_information]
        return batch

    def feed(self, data: bytes) -> Batch:
        batch = Batch()
        bulk = self.bulk
        if bulk is None or len(self.hunt.pending) + len(data) < self.small:
            frames = self.hunt.feed(data, batch.counters)
            batch.alive = bool(frames)
            words = [f for f in frames if f.channel != HEARTBEAT_CHANNEL]
            self.decode_each([f.channel for f in words], [f.word for f in words], [f.line_error for f in words],
                             batch)
        else:
            bulk.feed(self.hunt.pending + bytes(data), batch)
        add_counters(self.totals, batch.counters)
        return batch

    def decode_each(self, channels: list[int], words: list[int], line_errors: list[bool], batch: Batch) -> None:
        """The per-word path (small reads, `appliance decode`): every word decoded, in order."""
        keep = self.keep_words
        for channel, word, line_error in zip(channels, words, line_errors, strict=True):
            decoded = decode(word, channel)
            if line_error and decoded.error is None:
                decoded = decoded._replace(value=None, error="line")
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
