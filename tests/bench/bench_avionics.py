"""Avionics decode throughput: adapter bytes -> latest decoded word per (channel, label, SDI) -> flight state.

One run, the same words for every contender: a realistic mix of every label of the table at its spec rate
on two channels (the label 360 block and the 233-236 flight id included), framed as the adapter frames them.
- ours: hal.arinc429.AdapterStream (numpy bulk path) fed in reads of 64 KiB and of 4 KiB, then
  FlightState.apply(batch) when appliance.avionics.state exists (the `avionics` branch), so bytes to
  flight-state update.
- reference: the PyPI `arinc429` package's Decoder on the same words, already unframed (it has no frame
  parser; framing is left out of its time, which favours it), keeping the latest value per (label, SDI).
- context: our frame-by-frame path (FrameParser + decode() of every word), what `appliance decode` prints from.
Physical limit: 100 kbit/s / 36 bits = 2,778 words/s per high-speed channel.
Times are this process's CPU time, so a busy machine counts less against either side; every ratio is the
median of ROUNDS alternating rounds (ours, reference, reference, ours, ...) with its range.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from hal.arinc429 import (
    LABELS,
    REVERSE,
    AdapterStream,
    Batch,
    FrameParser,
    decode,
    encode,
    encode_flight_id,
    encode_flight_information,
    encode_frame,
)
from tests.bench import Figure, alternate

WORDS = 400_000
CHANNEL_CAPACITY = 100_000 / 36  # words/s on one high-speed channel
GOAL = 1_000_000.0  # 64 KiB reads
GOAL_4K = 1_500_000.0  # 4 KiB reads (what the daemon's serial reads deliver)
DEFECT = 300_000.0  # 64 KiB reads
DEFECT_4K = 1_000_000.0  # 4 KiB reads: the defect line of the issue "At the limit"


def _value(spec: Any, rnd: random.Random) -> Any:
    if spec.layout == "utc":
        return f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}"
    if spec.layout == "date":
        return "2026-11-23"
    if spec.format == "BCD":
        return rnd.randrange(10_000)
    low = -spec.range if spec.signed else 0.0
    return rnd.uniform(low, spec.range - spec.lsb)


def make_words(count: int, seed: int = 429) -> list[tuple[int, int]]:
    """(channel, word) pairs: each label drawn in proportion to its spec rate (1 / max interval)."""
    rnd = random.Random(seed)
    specs = [s for s in LABELS if s.layout not in ("pair", "block")]
    weights = [1.0 / s.max_interval_ms for s in specs]
    id_words = encode_flight_id("IB3456")
    block = encode_flight_information("IB3456", "LEBL", "LEMD")
    block_rate = 1.0 / 1000 * len(block) + 1.0 / 1000 * len(id_words)
    share = block_rate / (sum(weights) + block_rate)
    out: list[tuple[int, int]] = []
    while len(out) < count:
        channel = rnd.randrange(2)
        if rnd.random() < share / len(block):
            out += [(channel, w) for w in block + id_words]
            continue
        spec = rnd.choices(specs, weights)[0]
        out.append((channel, encode(spec.name, _value(spec, rnd))))
    return out[:count]


def _rate(words: int, run: Callable[[], None]) -> Callable[[], float]:
    """One round: words per CPU second of `run`."""

    def measure() -> float:
        started = time.process_time()
        run()
        return words / max(time.process_time() - started, 1e-9)

    return measure


def _best_rate(words: int, run: Callable[[], None], repeats: int = 3) -> float:
    return max(_rate(words, run)() for _ in range(repeats))


def _flight_state_apply() -> tuple[str, Callable[[Batch], None]]:
    """FlightState.apply from the avionics component when it exists; else no flight-state step."""
    try:
        from appliance.avionics.state import FlightState
        from appliance.timebase import SystemClock
    except ImportError:
        return "bytes -> latest decoded (no FlightState on this branch)", lambda batch: None
    state = FlightState(SystemClock())
    return "bytes -> flight-state update", state.apply


def _ours(data: bytes, chunk: int, apply: Callable[[Batch], None]) -> Callable[[], None]:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]

    def run() -> None:
        stream = AdapterStream()
        for piece in chunks:
            apply(stream.feed(piece))

    return run


def _reference(words: list[tuple[int, int]]) -> Callable[[], None]:
    from arinc429 import Decoder  # type: ignore[import-untyped]

    params: dict[int, tuple[str, int, float]] = {}
    for spec in LABELS:
        if spec.format == "BNR" and spec.layout == "":
            params[REVERSE[spec.code]] = ("BNR", 29 - spec.sig_bits, spec.lsb)
        else:
            params[REVERSE[spec.code]] = ("DSC", 11, 1.0)
    # The package reads the label from the word's most significant byte: hand it the same 4 bytes swapped.
    swapped = [int.from_bytes(word.to_bytes(4, "little"), "big") for _, word in words]
    labels = [word & 0xFF for _, word in words]
    decoder = Decoder()
    check = decoder.decode(swapped[0], params[labels[0]][0], lsb=params[labels[0]][1], scale=params[labels[0]][2])
    assert check.label == REVERSE[labels[0]], "the reference must see the same label"

    def run() -> None:
        latest: dict[tuple[int, int], Any] = {}
        for word, label in zip(swapped, labels, strict=True):
            encoding, lsb, scale = params[label]
            decoded = decoder.decode(word, encoding, lsb=lsb, scale=scale)
            latest[(decoded.label, decoded.sdi)] = decoded.value

    return run


def _frame_by_frame(data: bytes) -> Callable[[], None]:
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]

    def run() -> None:
        parser = FrameParser()
        for piece in chunks:
            for frame in parser.feed(piece):
                decode(frame.word, frame.channel)

    return run


def _verdict(rate: float, goal: float, defect: float) -> str:
    return "met" if rate >= goal else ("missed" if rate >= defect else f"DEFECT (< {defect:,.0f})")


def run() -> list[Figure]:
    words = make_words(WORDS)
    data = b"".join(encode_frame(channel, word, 360 * i) for i, (channel, word) in enumerate(words))
    what, apply = _flight_state_apply()
    reference = _rate(len(words), _reference(words))
    figures = []
    for chunk, goal, defect in ((65536, GOAL, DEFECT), (4096, GOAL_4K, DEFECT_4K)):
        rounds = alternate(_rate(len(words), _ours(data, chunk, apply)), reference)
        figure = Figure.from_rounds(
            f"{what}, {chunk // 1024} KiB reads, one core", "words/s", rounds,
            reference_name="PyPI arinc429 Decoder (decode only, no framing)",
            goal=f">= {goal:,.0f} words/s (below {defect:,.0f} a defect)", met=lambda v, _r, goal=goal: v >= goal,
        )  # fmt: skip
        figure.goal += f": {_verdict(figure.value, goal, defect)}"
        figures.append(figure)
    headline = figures[0].value
    figures.append(
        Figure(
            name="multiple of one high-speed channel's 2,778 words/s (64 KiB reads)",
            value=headline / CHANNEL_CAPACITY,
            unit="x channel",
            goal=">= 360x a full channel",
            met=headline / CHANNEL_CAPACITY >= 360,
        )
    )
    every = _best_rate(len(words), _frame_by_frame(data), repeats=1)
    ref_rate = statistics.median(figures[0].reference_samples)
    figures.append(
        Figure(
            name="frame-by-frame parser + decode() of every word (appliance decode's per-word work)",
            value=every,
            unit="words/s",
            reference=ref_rate,
            reference_name="PyPI arinc429 Decoder",
            ratio=every / ref_rate,
            goal=f"context; {every / CHANNEL_CAPACITY:,.0f}x a channel",
        )
    )
    return figures
