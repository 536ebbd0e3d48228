"""What one read of adapter bytes brought: the result of `AdapterStream.feed` (stream.py), from either path."""

from __future__ import annotations

from dataclasses import dataclass, field

from hal.arinc429.blocks import FlightId, FlightInformation
from hal.arinc429.frame import Counters
from hal.arinc429.word import DecodedWord


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
