"""`appliance capture --port URL --out FILE [--seconds S]` and `appliance replay FILE [--speed X]`.

capture: records the adapter's raw bytes with their receive times (hal.arinc429.capture format), read-only,
reopening the port when the device is lost (the gap stays in the recording, as on the wire).

replay: plays a recording through the reader's own path (ReaderCore: the codec's bulk stream, the flight state
and its phase, the counters) on the recording's clock, and prints JSON lines: the flight state snapshot every
second of recording time ({"t", "snapshot"}), an {"t", "event": "silent", "seconds"} line for every gap without
frames longer than the silence timeout, and a final {"summary": {...}}. `--speed 0` plays as fast as possible;
`--speed 1` in real time. The output depends only on the recording (goldens in tests/data/avionics).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from appliance.avionics.config import AvionicsConfig
from appliance.avionics.core import ReaderCore
from appliance.avionics.state import FlightState
from appliance.timebase import ManualClock
from hal.arinc429 import CaptureError, CaptureWriter, read_records, sum_counters
from hal.serialport import ReadOnlyPort

SNAPSHOT_EVERY_S = 1.0
SILENCE_TIMEOUT_S = AvionicsConfig(port="").silence_timeout


def capture(args: argparse.Namespace) -> int:
    out: Path = args.out
    limit: float | None = args.seconds
    started = time.monotonic()
    records = size = losses = 0
    port: ReadOnlyPort | None = None
    complaint = ""
    with out.open("wb") as stream:
        writer = CaptureWriter(stream)
        try:
            while limit is None or time.monotonic() - started < limit:
                if port is None:
                    try:
                        port = ReadOnlyPort(args.port, baudrate=args.baudrate, timeout=0.1)
                    except Exception as error:
                        if str(error) != complaint:
                            complaint = str(error)
                            print(f"appliance capture: cannot open {args.port}: {error}", file=sys.stderr)
                        time.sleep(0.25)
                        continue
                    complaint = ""
                try:
                    data = port.read_chunk()
                except Exception as error:  # the device was lost: keep recording once it is back
                    print(f"appliance capture: device lost: {error}", file=sys.stderr)
                    losses += 1
                    with contextlib.suppress(Exception):
                        port.close()
                    port = None
                    continue
                if data:
                    writer.write(time.monotonic() - started, data)
                    records += 1
                    size += len(data)
        except KeyboardInterrupt:
            pass
        finally:
            if port is not None:
                port.close()
            writer.flush()
    summary = {"records": records, "bytes": size, "losses": losses, "seconds": round(time.monotonic() - started, 3)}
    print(json.dumps(summary), file=sys.stderr)
    return 0


class Replayer:
    """Feeds records to a ReaderCore on a clock that follows the recording; collects the output lines."""

    def __init__(self, every: float = SNAPSHOT_EVERY_S, silence_timeout: float = SILENCE_TIMEOUT_S) -> None:
        self.clock = ManualClock(monotonic=0.0, wall=0.0)
        self.state = FlightState(self.clock)
        self.core = ReaderCore(self.state)
        self.every = every
        self.silence_timeout = silence_timeout
        self.silences = 0
        self._next_snapshot = every
        self._t = 0.0

    def _advance(self, t: float) -> list[dict[str, Any]]:
        """Move the clock to `t`, with the snapshots and silences due on the way."""
        lines: list[dict[str, Any]] = []
        while self._next_snapshot <= t:
            self._move(self._next_snapshot)
            self.state.tick(self._next_snapshot)
            lines.append({"t": round(self._next_snapshot, 3), "snapshot": self.state.snapshot()})
            self._next_snapshot += self.every
        self._move(t)
        return lines

    def _move(self, t: float) -> None:
        if t > self._t:
            self.clock.advance(t - self._t)
            self._t = t

    def feed(self, t: float, data: bytes) -> list[dict[str, Any]]:
        lines = self._advance(t)
        last = self.core.last_frame if self.core.last_frame is not None else 0.0
        batch = self.core.process(data, t)
        if batch.alive and t - last > self.silence_timeout:
            self.silences += 1
            lines.append({"t": round(t, 3), "event": "silent", "seconds": round(t - last, 3)})
        return lines

    def finish(self) -> list[dict[str, Any]]:
        self.core.finish(self._t)
        lines = self._advance(self._t)
        total = sum_counters(self.core.totals)
        lines.append({"t": round(self._t, 3), "snapshot": self.state.snapshot()})
        lines.append({"summary": {
            "frames": total.frames, "words": total.words, "parity_errors": total.parity_errors,
            "line_errors": total.line_errors, "crc_errors": total.crc_errors, "resyncs": total.resyncs,
            "bytes": self.core.bytes,
            "silences": self.silences, "seconds": round(self._t, 3), "phase": self.state.phase,
            "channels": self.core.totals_json(),
        }})
        return lines


def replay_lines(path: Path, speed: float = 0.0, every: float = SNAPSHOT_EVERY_S) -> list[dict[str, Any]]:
    """Everything `appliance replay` prints for a recording, as objects."""
    return list(_replay(path, speed, every))


def _replay(path: Path, speed: float, every: float) -> Any:
    replayer = Replayer(every)
    started = time.monotonic()
    with path.open("rb") as stream:
        for record in read_records(stream):
            if speed > 0:
                delay = started + record.seconds / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield from replayer.feed(record.seconds, record.data)
    yield from replayer.finish()


def replay(args: argparse.Namespace) -> int:
    try:
        for line in _replay(args.file, float(args.speed), float(getattr(args, "every", SNAPSHOT_EVERY_S))):
            sys.stdout.write(json.dumps(line) + "\n")
    except BrokenPipeError:
        return 0
    except (OSError, CaptureError) as error:
        print(f"appliance replay: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    return 0
