"""The ARINC-429-to-serial adapter, emulated: the world's truth encoded label by label at each label's maximum
transmit interval, framed as the adapter does (14-byte frames, CRC, heartbeat once a second when no word was
sent), written to a pty (behind a stable symlink) and to socket:// clients.

Channel 0 (high speed) carries every label; channel 1 (low speed) carries a second air data computer's
altitude, Mach and temperatures (SDI 2). Faults on demand: garbage bytes, CRC errors, parity errors, silence
(nothing at all, not even heartbeats), quiet (heartbeats only), unplug/replug; per label a forced status or
silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from firmware_sim.adapter_io import PtyOutput, SocketOutput
from firmware_sim.device import World
from firmware_sim.flight.geo import wrap180
from hal.arinc429 import (
    BY_LABEL,
    FLAG_HIGH_SPEED,
    FLAG_LINE_ERROR,
    LABELS,
    STATUSES,
    LabelSpec,
    encode,
    encode_flight_id,
    encode_flight_information,
    encode_frame,
    heartbeat_frame,
    spec_for,
)

TICK_S = 0.005
FAULT_KINDS = ("garbage", "unplug", "crc", "parity", "line", "silence", "quiet")
ADC_LABELS = ("203", "205", "211", "213")  # from the air data computers: SDI 1 on channel 0, SDI 2 on channel 1
EVERY_NTH = 3  # crc / parity faults spoil one frame in three


@dataclass
class Slot:
    spec: LabelSpec
    channel: int
    sdi: int
    interval: float
    due: float = 0.0


@dataclass
class Override:
    status: str = "normal"
    silent: bool = False


def _schedule() -> list[Slot]:
    slots = []
    for spec in LABELS:
        sdi = 1 if spec.label in ADC_LABELS else 0
        slots.append(Slot(spec, 0, sdi, spec.max_interval_ms / 1000.0))
        if spec.label in ADC_LABELS:
            slots.append(Slot(spec, 1, 2, spec.max_interval_ms / 1000.0))
    return slots


def _digits(flight_number: str) -> int:
    digits = "".join(c for c in flight_number if c.isdigit())
    return int(digits[-4:] or 0)


class AvionicsDevice:
    """SimDevice "avionics": endpoints {"avionics.port": <symlink>, "avionics.socket": "socket://..."}."""

    name = "avionics"

    def __init__(self, world: World, seed: int = 429) -> None:
        self.world = world
        self._rng = random.Random(seed)
        self._dir = Path(tempfile.mkdtemp(prefix="firmware-sim-avionics-"))
        self.pty = PtyOutput(self._dir / "arinc429")
        self.socket = SocketOutput()
        self.slots = _schedule()
        self.overrides: dict[str, Override] = {}  # by octal label
        self.faults: dict[str, float] = {}  # kind -> monotonic end
        self.sent: dict[str, Any] = {}  # parameter name -> the truth last encoded
        self.counts = dict.fromkeys(
            ("frames", "words", "heartbeats", "garbage_bytes", "crc_corrupted", "parity_corrupted", "line_flagged"), 0
        )
        self._nth = 0
        self._t0 = time.monotonic()
        self._last_word = self._t0
        self._last_heartbeat = self._t0
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.pty.plug()
        await self.socket.start()
        self._task = asyncio.create_task(self._run(), name="avionics")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.pty.unplug()
        await self.socket.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def endpoints(self) -> dict[str, Any]:
        return {"avionics.port": str(self.pty.link), "avionics.socket": self.socket.url}

    # --- the adapter ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self.step(time.monotonic())
            await asyncio.sleep(TICK_S)

    def step(self, now: float) -> None:
        """Send whatever is due at monotonic time `now`."""
        self._expire_faults(now)
        if "unplug" in self.faults:
            return
        frames: list[tuple[int, int]] = []
        due = [slot for slot in self.slots if slot.due <= now]
        if due and "quiet" not in self.faults:
            truth = self.world.truth()
            for slot in due:
                frames.extend((slot.channel, word) for word in self._words(slot, truth))
        for slot in due:
            slot.due = slot.due + slot.interval if now - slot.due < slot.interval else now + slot.interval
        stamp = int((now - self._t0) * 1e6)
        if frames:
            self._last_word = now
        elif now - max(self._last_word, self._last_heartbeat) >= 1.0:
            self._last_heartbeat = now
            self._write(heartbeat_frame(stamp), now)
            self.counts["heartbeats"] += 1
            return
        if frames:
            self._write(self._frame_bytes(frames, stamp, now), now)

    def _words(self, slot: Slot, truth: dict[str, Any]) -> list[int]:
        spec = slot.spec
        override = self.overrides.get(spec.label)
        if override is not None and override.silent:
            return []
        status = override.status if override is not None else "normal"
        if spec.layout == "block":
            self.sent["flight_information"] = f"{truth['flight_number']} {truth['origin']}-{truth['destination']}"
            return encode_flight_information(truth["flight_number"], truth["origin"], truth["destination"])
        if spec.layout == "pair":
            index = ("233", "234", "235", "236").index(spec.label)
            self.sent["flight_id"] = truth["flight_id"]
            return [encode_flight_id(truth["flight_id"], slot.sdi, status)[index]]
        value: Any = _digits(truth["flight_number"]) if spec.name == "flight_number" else truth[spec.name]
        if spec.format == "BNR" and spec.layout == "":
            if spec.signed and spec.range == 180:
                value = wrap180(float(value))
            if status == "functional_test":
                value = spec.range / 2  # a test pattern, not the truth
        if slot.channel == 0:
            self.sent[spec.name] = value
        return [encode(spec.label, value, slot.sdi, status)]

    def _frame_bytes(self, frames: list[tuple[int, int]], stamp: int, now: float) -> bytes:
        parts: list[bytes] = []
        garbage, crc, parity = ("garbage" in self.faults), ("crc" in self.faults), ("parity" in self.faults)
        line = "line" in self.faults
        for channel, truth_word in frames:
            self._nth += 1
            spoil = self._nth % EVERY_NTH == 0  # CRC errors on these; parity errors on the frames after them
            word = truth_word ^ (1 << 31) if parity and self._nth % EVERY_NTH == 1 else truth_word
            self.counts["parity_corrupted"] += word != truth_word
            flags = FLAG_HIGH_SPEED if channel == 0 else 0
            if line and self._nth % EVERY_NTH == 2:  # a bit-length error: two bits wrong, parity still right
                word ^= 0b11 << 20
                flags |= FLAG_LINE_ERROR
                self.counts["line_flagged"] += 1
            frame = encode_frame(channel, word, stamp, flags)
            if crc and spoil:
                frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
                self.counts["crc_corrupted"] += 1
            if garbage and self._rng.random() < 0.5:
                noise = self._rng.randbytes(self._rng.randint(1, 20))
                if self._rng.random() < 0.3:
                    noise += b"\x5a\xa5"  # a false sync: the parser must not be fooled
                parts.append(noise)
                self.counts["garbage_bytes"] += len(noise)
            parts.append(frame)
            self.counts["frames"] += 1
            self.counts["words"] += 1
        return b"".join(parts)

    def _write(self, data: bytes, now: float) -> None:
        if "silence" in self.faults:
            return
        self.pty.write(data)
        self.socket.write(data)

    # --- faults and overrides -------------------------------------------------------------------------------

    def inject(self, kind: str, seconds: float) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r} (known: {', '.join(FAULT_KINDS)})")
        self.faults[kind] = time.monotonic() + seconds
        if kind == "unplug" and self.pty.plugged:
            self.pty.unplug()
            self.socket.unplug()

    def clear_faults(self) -> None:
        for kind in list(self.faults):
            self.faults[kind] = 0.0
        self._expire_faults(time.monotonic())

    def _expire_faults(self, now: float) -> None:
        for kind, end in list(self.faults.items()):
            if now >= end:
                del self.faults[kind]
                if kind == "unplug":
                    self.pty.plug()
                    self.socket.plug()

    def set_label(self, name_or_label: str, status: str | None, silent: bool | None) -> list[str]:
        """Force a status on / silence a label (all of 233-236 for "flight_id"). Returns the labels changed."""
        if name_or_label == "flight_id":
            specs = [BY_LABEL[label] for label in ("233", "234", "235", "236")]
        else:
            specs = [spec_for(name_or_label)]
        for spec in specs:
            if status is not None:
                if status not in STATUSES:
                    raise ValueError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
                if spec.format == "BCD" and status == "failure_warning":
                    raise ValueError(f"label {spec.label} is BCD: a failed BCD source stops sending (use silent)")
                if spec.layout == "block" and status != "normal":
                    raise ValueError("label 360's SSM marks the block's words: only silent applies")
        for spec in specs:
            override = self.overrides.setdefault(spec.label, Override())
            if status is not None:
                override.status = status
            if silent is not None:
                override.silent = silent
            if override == Override():
                del self.overrides[spec.label]
        return [spec.label for spec in specs]

    # --- control and truth ----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "port": str(self.pty.link),
            "pts": self.pty.pts,
            "socket": self.socket.url,
            "plugged": self.pty.plugged,
            "socket_clients": self.socket.clients,
            "faults": {kind: round(end - now, 3) for kind, end in self.faults.items()},
            "labels": {label: {"status": o.status, "silent": o.silent} for label, o in self.overrides.items()},
            "sent": dict(self.counts) | {"dropped_bytes": self.pty.dropped},
            "parameters": dict(self.sent),
        }

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/avionics", self._get)
        app.router.add_post("/avionics/faults", self._post_fault)
        app.router.add_delete("/avionics/faults", self._delete_faults)
        app.router.add_post("/avionics/labels/{name}", self._post_label)
        app.router.add_delete("/avionics/labels", self._delete_labels)

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _post_fault(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        kind, seconds = body.get("kind"), body.get("seconds", 2)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 < seconds <= 3600:
            return _error("seconds must be a number in (0, 3600]")
        if kind not in FAULT_KINDS:
            return _error(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
        self.inject(str(kind), float(seconds))
        return web.json_response({"kind": kind, "seconds": seconds})

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"faults": {}})

    async def _post_label(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        status, silent = body.get("status"), body.get("silent")
        if status is not None and not isinstance(status, str):
            return _error("status must be a string")
        if silent is not None and not isinstance(silent, bool):
            return _error("silent must be true or false")
        try:
            labels = self.set_label(request.match_info["name"], status, silent)
        except KeyError as error:
            return _error(str(error.args[0]), 404)
        except ValueError as error:
            return _error(str(error))
        return web.json_response({"labels": labels, "overrides": self.state()["labels"]})

    async def _delete_labels(self, request: web.Request) -> web.Response:
        self.overrides.clear()
        return web.json_response({"labels": {}})


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error("body is not JSON")
    if not isinstance(body, dict):
        return _error("body must be a JSON object")
    return body


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)
