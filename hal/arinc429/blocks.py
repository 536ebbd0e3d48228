"""Multi-word items: the label 360 flight information block and the 233-236 flight id characters."""

from __future__ import annotations

from typing import NamedTuple

from hal.arinc429.word import (
    REVERSE,
    DecodedWord,
    block_chars,
    block_word_count,
    is_block_start,
    pair_chars,
    sdi_of,
    ssm_of,
)

BLOCK_LABEL = 0o360
FLIGHT_ID_LABELS = (0o233, 0o234, 0o235, 0o236)
BLOCK_WORDS = 7  # the initial word and six words of three characters


class FlightInformation(NamedTuple):
    channel: int
    flight_number: str
    origin: str
    destination: str

    def as_word(self) -> DecodedWord:
        """The completed block as `appliance decode` prints it (label 360, name flight_information)."""
        value = {"flight_number": self.flight_number, "origin": self.origin, "destination": self.destination}
        return DecodedWord(self.channel, "360", 0, "flight_information", value, "", "normal")


class FlightId(NamedTuple):
    channel: int
    sdi: int
    flight_id: str


def _clean(text: str) -> str:
    return text.replace("\x00", "").strip()


class FlightInfoAssembler:
    """Collects label 360 blocks per channel.

    A block is accepted only when exactly its announced number of words arrived between its initial word and
    the next initial word (or flush()), so a lost or duplicated word drops that block instead of shifting its
    characters. The price: a block is reported when the next one starts (one transmit interval, <= 1 s, late).
    Feed only words with good parity: a bad word is a missing word.
    """

    def __init__(self) -> None:
        self._pending: dict[int, tuple[int, list[str]]] = {}  # channel -> (announced count, data-word chars)

    def feed(self, channel: int, word: int) -> FlightInformation | None:
        if is_block_start(word):
            done = self._finish(channel)
            self._pending[channel] = (block_word_count(word), [])
            return done
        pending = self._pending.get(channel)
        if pending is None:
            return None  # a data word without its initial word
        if ssm_of(word) != 0 or len(pending[1]) >= pending[0] - 1:
            del self._pending[channel]  # not a block data word, or one word too many: drop the block
            return None
        pending[1].append(block_chars(word))
        return None

    def _finish(self, channel: int) -> FlightInformation | None:
        pending = self._pending.pop(channel, None)
        if pending is None or pending[0] != BLOCK_WORDS or len(pending[1]) != BLOCK_WORDS - 1:
            return None
        chars = "".join(pending[1])
        return FlightInformation(channel, _clean(chars[0:8]), _clean(chars[8:12]), _clean(chars[12:16]))

    def flush(self) -> list[FlightInformation]:
        """At the end of a recording: report the blocks that are complete."""
        done = [self._finish(channel) for channel in list(self._pending)]
        return [info for info in done if info is not None]


class FlightIdAssembler:
    """Keeps the latest characters of 233-236 per (channel, SDI); reports the flight id when it changes.

    Feed only words with good parity and normal status. The id is reported once all four words were seen.
    """

    def __init__(self) -> None:
        self._pairs: dict[tuple[int, int], list[str | None]] = {}
        self._current: dict[tuple[int, int], str] = {}

    def feed(self, channel: int, word: int) -> FlightId | None:
        index = FLIGHT_ID_LABELS.index(REVERSE[word & 0xFF])
        key = (channel, sdi_of(word))
        pairs = self._pairs.setdefault(key, [None, None, None, None])
        pairs[index] = pair_chars(word)
        if any(pair is None for pair in pairs):
            return None
        flight_id = _clean("".join(pair for pair in pairs if pair is not None))
        if self._current.get(key) == flight_id:
            return None
        self._current[key] = flight_id
        return FlightId(channel, key[1], flight_id)
