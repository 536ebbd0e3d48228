"""The radio link between aircraft and ground as the station sees it: a bandwidth shared by every request in
one direction (bytes queue behind each other), a round-trip latency that concurrent requests overlap, and a
cut (scheduled at a random moment or immediate) during which every connection is dropped."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Direction:
    """One direction's serialiser: when the last queued byte will have left."""

    free_at: float = 0.0
    bytes: int = 0


@dataclass
class Wire:
    bandwidth_bps: float = 0.0  # 0: unlimited
    rtt_s: float = 0.0
    cut: bool = False
    cuts: int = 0
    up: Direction = field(default_factory=Direction)
    down: Direction = field(default_factory=Direction)
    _cut_task: asyncio.Task[None] | None = None

    async def carry(self, nbytes: int, direction: Direction) -> None:
        """Wait until `nbytes` have crossed the link in `direction`: queueing, serialisation, half the RTT."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        direction.bytes += nbytes
        done = now
        if self.bandwidth_bps > 0:
            done = max(now, direction.free_at) + nbytes * 8.0 / self.bandwidth_bps
            direction.free_at = done
        wait = done - now + self.rtt_s / 2.0
        if wait > 0:
            await asyncio.sleep(wait)

    def configure(self, body: Any) -> None:
        """Apply `PUT /ground/link` JSON: {"bandwidth_bps", "rtt_ms", "cut": bool, "cut_in": [lo, hi] seconds}.
        Raises ValueError for the client."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        unknown = set(body) - {"bandwidth_bps", "rtt_ms", "cut", "cut_in"}
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        bandwidth = body.get("bandwidth_bps", self.bandwidth_bps)
        rtt_ms = body.get("rtt_ms", self.rtt_s * 1000.0)
        for name, value in (("bandwidth_bps", bandwidth), ("rtt_ms", rtt_ms)):
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        cut = body.get("cut")
        if cut is not None and not isinstance(cut, bool):
            raise ValueError("cut must be true or false")
        cut_in = body.get("cut_in")
        if cut_in is not None and not (
            isinstance(cut_in, list)
            and len(cut_in) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in cut_in)
            and cut_in[0] <= cut_in[1]
        ):
            raise ValueError("cut_in must be [min_seconds, max_seconds]")
        self.bandwidth_bps = float(bandwidth)
        self.rtt_s = float(rtt_ms) / 1000.0
        if cut is not None:
            self._cancel_scheduled()
            self.set_cut(cut)
        if cut_in is not None:
            self._cancel_scheduled()
            self._cut_task = asyncio.get_running_loop().create_task(self._cut_later(random.uniform(*cut_in)))

    def set_cut(self, cut: bool) -> None:
        if cut and not self.cut:
            self.cuts += 1
        self.cut = cut

    async def _cut_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.set_cut(True)

    def _cancel_scheduled(self) -> None:
        if self._cut_task is not None:
            self._cut_task.cancel()
            self._cut_task = None

    def close(self) -> None:
        self._cancel_scheduled()

    def state(self) -> dict[str, Any]:
        return {
            "bandwidth_bps": self.bandwidth_bps,
            "rtt_ms": self.rtt_s * 1000.0,
            "cut": self.cut,
            "cuts": self.cuts,
            "cut_scheduled": self._cut_task is not None and not self._cut_task.done(),
            "bytes_up": self.up.bytes,
            "bytes_down": self.down.bytes,
        }
