"""The avionics reader component: the adapter's port, read-only, in bulk, on a thread; the bytes go to the
event loop (call_soon_threadsafe) where ReaderCore parses them and updates the flight state.

A lost device (EOF, EIO/ENODEV, SerialException, the port gone) is reopened with backoff, the first retry
within `reopen_backoff` (0.25 s). When no frame at all (not even the adapter's heartbeat) arrives for
`silence_timeout` (2 s) the bus is reported silent and the port reopened.

Given `ready` (the daemon's READY=1 flag), the reader parses frame by frame, without numpy, until the daemon is
READY, then imports the bulk path on a worker thread (hal.arinc429.stream.load_bulk): the 0.1-0.2 s of numpy's
import never delays the start. Frame by frame keeps up with the bus many times over (make bench: 414-428k
words/s with every word decoded, about 150 times a full channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from appliance.avionics.config import AvionicsConfig
from appliance.avionics.core import ReaderCore, channel_label
from appliance.avionics.faults import FaultMonitor
from appliance.avionics.state import FlightState
from appliance.component import Check
from appliance.metrics import Metrics
from appliance.tasks import after_ready, cancel_and_wait
from appliance.timebase import Clock
from hal.arinc429 import load_bulk
from hal.serialport import ReadOnlyPort

log = logging.getLogger("appliance.avionics")

READ_TIMEOUT_S = 0.1
FAIL_AFTER_S = 30.0  # silent or disconnected longer than this: fail (before: warn)
BULK_AFTER_S = 60.0  # the bulk path is loaded once READY, or after this long without it


class ByteSource(Protocol):
    def read_chunk(self, max_bytes: int = 65536) -> bytes: ...

    def cancel_read(self) -> None: ...

    def close(self) -> None: ...


def open_port(config: AvionicsConfig) -> ByteSource:
    return ReadOnlyPort(config.port, baudrate=config.baudrate, timeout=READ_TIMEOUT_S)


class AvionicsReader:
    name = "avionics"

    def __init__(self, config: AvionicsConfig, clock: Clock, state: FlightState, metrics: Metrics | None = None, *,
                 opener: Callable[[AvionicsConfig], ByteSource] = open_port,
                 ready: Callable[[], bool] | None = None) -> None:
        """`ready`: the daemon's READY=1 flag; the bulk path is loaded after it (None: at once)."""
        self.config = config
        self.clock = clock
        self.state = state
        self.core = ReaderCore(state, metrics, bulk=ready is None)
        self._ready = ready
        self._bulk_task: asyncio.Task[None] | None = None
        self.metrics = metrics
        self._opener = opener
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._source: ByteSource | None = None
        self._monitor: asyncio.Task[None] | None = None
        self.connected = False
        self.silent = False
        self.opens = 0
        self.reconnects = 0
        self.silences = 0
        self.last_error = ""
        self._trouble_since: float | None = None  # when the bus last went silent or the port was lost
        self._thread_beat = 0.0
        self._logged_phase = ""
        self.faults = FaultMonitor(tuple(config.required), config.error_rate_limit, config.error_window)

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._trouble_since = self.clock.monotonic()
        self._thread = threading.Thread(target=self._run, name="avionics-reader", daemon=True)
        self._thread.start()
        self._monitor = asyncio.create_task(self._tick(), name="avionics-monitor")
        if self._ready is not None:
            self._bulk_task = asyncio.create_task(self._load_bulk(self._ready), name="avionics-bulk")

    async def _load_bulk(self, ready: Callable[[], bool]) -> None:
        """After READY: import numpy's path off the loop, then switch the stream to it (on the loop, which is
        where the stream is fed). An import that fails leaves the reader frame by frame, which is logged."""
        await after_ready(ready, BULK_AFTER_S)
        try:
            await asyncio.to_thread(load_bulk)
        except ImportError as error:
            log.error("avionics: bulk decoder unavailable, reading frame by frame: %s", error)
            return
        self.core.stream.use_bulk()

    async def stop(self) -> None:
        self._stop.set()
        source = self._source
        if source is not None:
            with contextlib.suppress(Exception):
                source.cancel_read()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        await cancel_and_wait(self._monitor, self._bulk_task)

    @property
    def alive(self) -> bool:
        """The reader thread runs and went round its loop recently (the watchdog stops being fed otherwise)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return False
        return self.clock.monotonic() - self._thread_beat < max(5.0, self.config.silence_timeout * 2)

    # --- the thread -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.config.reopen_backoff
        while not self._stop.is_set():
            self._thread_beat = self.clock.monotonic()
            try:
                source = self._opener(self.config)
            except Exception as error:  # the device is not there (yet): retry with backoff
                self._lost(f"cannot open {self.config.port}: {error}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.reopen_backoff_max)
                continue
            self._source = source
            self.opens += 1
            self._call(self._opened)
            try:
                if self._read_until_lost(source):
                    backoff = self.config.reopen_backoff
            finally:
                self._source = None
                with contextlib.suppress(Exception):
                    source.close()
            if not self._stop.is_set():
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.config.reopen_backoff_max)

    def _read_until_lost(self, source: ByteSource) -> bool:
        """Read until the device is lost or silent. True when frames arrived on this connection."""
        opened = self.clock.monotonic()
        got_frames = False
        while not self._stop.is_set():
            now = self.clock.monotonic()
            self._thread_beat = now
            try:
                data = source.read_chunk()
            except Exception as error:  # SerialException, OSError (EIO, ENODEV), EOF on a socket
                self._lost(f"device lost: {error}")
                return got_frames
            now = self.clock.monotonic()
            if data:
                self._call(self.core.process, data, now)
                if self.config.read_batch_seconds > 0:
                    self._stop.wait(self.config.read_batch_seconds)
            last = self.core.last_frame
            if last is not None and last >= opened:
                got_frames = True
            since = max(last if last is not None else opened, opened)
            if now - since > self.config.silence_timeout:
                self._call(self._went_silent, now - since)
                return got_frames
        return got_frames

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
            loop.call_soon_threadsafe(callback, *args)

    # --- on the loop ----------------------------------------------------------------------------------------

    def _opened(self) -> None:
        self.core.reopened()
        if not self.connected:
            log.info("avionics: %s open", self.config.port)
        self.connected = True

    def _lost(self, reason: str) -> None:
        """From the reader thread: the state changes on the loop."""
        self._call(self._lost_on_loop, reason)

    def _lost_on_loop(self, reason: str) -> None:
        if self.connected:
            log.warning("avionics: %s", reason)
            self.reconnects += 1
        self.connected = False
        self.last_error = reason
        if self._trouble_since is None:
            self._trouble_since = self.clock.monotonic()

    def _went_silent(self, seconds: float) -> None:
        if not self.silent:
            log.warning("avionics: bus silent for %.1f s (not even a heartbeat): reopening", seconds)
            self.silences += 1
        self.silent = True
        self.connected = False
        self.last_error = f"no frame for {seconds:.1f} s"  # health() says "bus silent: " once
        if self._trouble_since is None:
            self._trouble_since = self.clock.monotonic() - seconds

    async def _tick(self) -> None:
        while True:
            now = self.clock.monotonic()
            last = self.core.last_frame
            if last is not None and now - last <= self.config.silence_timeout:
                self.silent = False
                if self.connected:
                    self._trouble_since = None
            self.state.tick(now)
            self.core.update_age_gauges()
            live = last is not None and now - last <= self.config.silence_timeout and self.connected
            self.faults.update(now, self.core.totals, channel_label, self.state, live)
            self._log_phase()
            await asyncio.sleep(0.5)

    def _log_phase(self) -> None:
        """One log line per flight phase change: the journal then reads like the flight's log book."""
        phase = self.state.phase
        if phase != self._logged_phase:
            info = self.state.flight_info()
            altitude = self.state.usable("altitude")
            log.info("flight phase: %s (%s %s-%s, altitude %s ft)", phase, info.flight_number or "-",
                     info.origin or "?", info.destination or "?", "-" if altitude is None else round(float(altitude)))
            self._logged_phase = phase

    # --- health ---------------------------------------------------------------------------------------------

    def health(self) -> Check:
        now = self.clock.monotonic()
        details = {
            "port": self.config.port,
            "connected": self.connected,
            "silent": self.silent,
            "opens": self.opens,
            "reconnects": self.reconnects,
            "silences": self.silences,
            "counters": self.core.totals_json(),
            "phase": self.state.phase,
            "last_seen": {label: round(age, 3) for label, age in self.state.last_seen().items()},
        }
        if not self.alive and self._thread is not None:
            return Check.failing("reader thread is not running", **details)
        last = self.core.last_frame
        if last is None or now - last > self.config.silence_timeout or not self.connected:
            since = self._trouble_since if self._trouble_since is not None else now
            reason = self.last_error or "waiting for the first frame"
            reason = f"{'bus silent' if self.connected or self.silent else 'reconnecting'}: {reason}"
            if now - since > FAIL_AFTER_S:
                return Check.failing(reason, **details)
            return Check.warning(reason, **details)
        problems = self.faults.problems()
        stale = self.state.stale_names()
        if stale:
            problems.append(f"stale parameters: {', '.join(sorted(stale))}")
        if problems:
            return Check.warning("; ".join(problems), stale=sorted(stale), faults=problems, **details)
        return Check.passing("reading", **details)

    def status_section(self) -> dict[str, Any]:
        """/api/v1/status "avionics": per label status, the required parameters, error rates, current faults."""
        return self.faults.section(self.state)
