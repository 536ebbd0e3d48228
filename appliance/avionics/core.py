"""What happens to every chunk of bytes read from the adapter: the codec's bulk stream, the flight state, the
counters. Shared by the live reader (reader.py) and `appliance replay`, so a recording goes through exactly the
same path as the wire."""

from __future__ import annotations

import math

from appliance.avionics.metrics import AvionicsMetrics
from appliance.avionics.state import PARAMETER_NAMES, FlightState
from appliance.metrics import Metrics
from hal.arinc429 import HEARTBEAT_CHANNEL, UNKNOWN_CHANNEL, AdapterStream, Batch, ChannelCounters, Counters

_COUNTERS = ("frames", "words", "parity_errors", "line_errors", "crc_errors", "resyncs")
#: The adapter's channels (0-7): each has every counter's sample (0) from the first scrape, so an alert on the
#: first error can fire; bad-CRC frames, frames and resyncs may also be charged to the heartbeat or unknown.
CHANNELS = tuple(range(8))


def channel_label(channel: int) -> str:
    if channel == HEARTBEAT_CHANNEL:
        return "heartbeat"
    if channel == UNKNOWN_CHANNEL:
        return "unknown"
    return str(channel)


class ReaderCore:
    def __init__(self, state: FlightState, metrics: Metrics | None = None, bulk: bool = True) -> None:
        """`bulk=False`: frame by frame, numpy not imported, until `stream.use_bulk()` (the live reader's start)."""
        self.state = state
        self.metrics = metrics.of(AvionicsMetrics) if metrics is not None else None
        self.stream = AdapterStream(bulk=bulk)
        self.last_frame: float | None = None  # monotonic time of the last frame (heartbeats included)
        self.bytes = 0
        if self.metrics is not None:
            self._seed(self.metrics)

    @staticmethod
    def _seed(m: AvionicsMetrics) -> None:
        for channel in CHANNELS:
            for metric in (m.avionics_words, m.avionics_parity_errors, m.avionics_line_errors):
                metric.labels(channel=channel_label(channel))
        for channel in (*CHANNELS, HEARTBEAT_CHANNEL, UNKNOWN_CHANNEL):
            for metric in (m.avionics_frames, m.avionics_crc_errors, m.avionics_resyncs):
                metric.labels(channel=channel_label(channel))
        for name in PARAMETER_NAMES:  # never received: infinitely old, so an age alert fires
            m.avionics_parameter_age.labels(name=name).set(math.inf)

    def process(self, data: bytes, now: float) -> Batch:
        """Parse, count and apply one read that arrived at monotonic `now`."""
        self.bytes += len(data)
        batch = self.stream.feed(data)
        if batch.alive:
            self.last_frame = now
        if batch.counters and self.metrics is not None:
            self._count(batch.counters)
        if batch.latest or batch.flight_information or batch.flight_ids:
            self.state.apply(batch, now)
        return batch

    def finish(self, now: float) -> None:
        """End of a recording: blocks complete but not yet confirmed by a following word."""
        batch = self.stream.flush()
        if batch.flight_information:
            self.state.apply(batch, now)

    def reopened(self) -> None:
        """A new connection: a half frame from before means nothing."""
        self.stream.reset()

    @property
    def totals(self) -> Counters:
        return self.stream.totals

    def totals_json(self) -> dict[str, dict[str, int]]:
        return {
            channel_label(channel): {name: getattr(counters, name) for name in _COUNTERS}
            for channel, counters in sorted(self.stream.totals.items())
        }

    def _count(self, counters: Counters) -> None:
        assert self.metrics is not None
        m = self.metrics
        series = (
            (m.avionics_frames, "frames"),
            (m.avionics_words, "words"),
            (m.avionics_parity_errors, "parity_errors"),
            (m.avionics_line_errors, "line_errors"),
            (m.avionics_crc_errors, "crc_errors"),
            (m.avionics_resyncs, "resyncs"),
        )
        for channel, increments in counters.items():
            label = channel_label(channel)
            for metric, name in series:
                value = getattr(increments, name)
                if value:
                    metric.labels(channel=label).inc(value)

    def update_age_gauges(self) -> None:
        if self.metrics is None:
            return
        gauge = self.metrics.avionics_parameter_age
        for name in PARAMETER_NAMES:
            reading = self.state.reading(name)
            if reading is not None:
                gauge.labels(name=name).set(round(reading.age, 3))


__all__ = ["ChannelCounters", "ReaderCore", "channel_label"]
