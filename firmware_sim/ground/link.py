"""A model of the aircraft's radio link as the ground sees it, byte by byte: a bandwidth every response body
shares (pieces queue behind each other, so concurrent requests fill the link together), a round-trip time
paid per request, and a cut at a given or random moment (after so many body bytes, or seconds) that drops
every connection mid-body until `restore()`."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

HEADER_BYTES = 200  # a response's status line and headers, counted as link bytes


class LinkCut(Exception):
    """The link is down: the connection is to be dropped."""


@dataclass
class LinkModel:
    bandwidth_bps: float = 0.0  # 0: unlimited
    rtt_s: float = 0.0
    cut: bool = False
    cut_after_bytes: int | None = None  # cut once this many body bytes (in total) have been sent
    cut_at: float | None = None  # cut at this event-loop time
    cuts: int = 0
    bytes_sent: int = 0  # every byte put on the link (headers estimated)
    body_bytes: int = 0
    busy_s: float = 0.0  # seconds the link spent serialising bytes
    bytes_received: int = 0  # uplink: requests (headers estimated) from the aircraft
    _free_at: float = 0.0
    _up_free_at: float = 0.0

    def schedule_cut(
        self,
        *,
        after_bytes: int | None = None,
        in_seconds: float | None = None,
        random_in: tuple[float, float] | None = None,
    ) -> None:
        """Cut the link after `after_bytes` more body bytes, or in `in_seconds`, or at a random moment."""
        if after_bytes is not None:
            self.cut_after_bytes = self.body_bytes + after_bytes
        if random_in is not None:
            in_seconds = random.uniform(*random_in)
        if in_seconds is not None:
            self.cut_at = asyncio.get_running_loop().time() + in_seconds

    def restore(self) -> None:
        self.cut = False
        self.cut_after_bytes = None
        self.cut_at = None

    def set_cut(self) -> None:
        if not self.cut:
            self.cuts += 1
        self.cut = True

    def _check_cut(self) -> None:
        if self.cut_at is not None and asyncio.get_running_loop().time() >= self.cut_at:
            self.cut_at = None
            self.set_cut()
        if self.cut:
            raise LinkCut

    async def round_trip(self) -> None:
        """A request's trip up and the first byte's trip down."""
        self._check_cut()
        if self.rtt_s > 0:
            await asyncio.sleep(self.rtt_s)
        self._check_cut()

    async def transmit(self, nbytes: int, header: bool = False) -> int:
        """Wait until `nbytes` have crossed the link; returns how many did (fewer when the link was cut
        part-way: the caller sends those and drops the connection). Raises LinkCut when none can go."""
        self._check_cut()
        allowed = nbytes
        if self.cut_after_bytes is not None and not header:
            allowed = max(0, min(nbytes, self.cut_after_bytes - self.body_bytes))
        if allowed > 0:
            loop = asyncio.get_running_loop()
            now = loop.time()
            done = now
            if self.bandwidth_bps > 0:
                seconds = allowed * 8.0 / self.bandwidth_bps
                done = max(now, self._free_at) + seconds
                self._free_at = done
                self.busy_s += seconds
            if done > now:
                await asyncio.sleep(done - now)
            self.bytes_sent += allowed
            if not header:
                self.body_bytes += allowed
        if allowed < nbytes:
            self.set_cut()
            if allowed == 0:
                raise LinkCut
        return allowed

    async def receive(self, nbytes: int) -> None:
        """Wait until a request of `nbytes` has come up the link (the uplink has the same bandwidth and its own
        queue). Raises LinkCut."""
        self._check_cut()
        self.bytes_received += nbytes
        if self.bandwidth_bps > 0:
            loop = asyncio.get_running_loop()
            now = loop.time()
            done = max(now, self._up_free_at) + nbytes * 8.0 / self.bandwidth_bps
            self._up_free_at = done
            await asyncio.sleep(done - now)
        self._check_cut()

    def configure(self, body: Any) -> None:
        """{"bandwidth_bps", "rtt_ms", "cut": bool, "cut_after_bytes", "cut_in": [lo, hi]}; ValueError if bad."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        unknown = set(body) - {"bandwidth_bps", "rtt_ms", "cut", "cut_after_bytes", "cut_in"}
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        for key in ("bandwidth_bps", "rtt_ms", "cut_after_bytes"):
            value = body.get(key)
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
                raise ValueError(f"{key} must be a number >= 0")
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
        if "bandwidth_bps" in body:
            self.bandwidth_bps = float(body["bandwidth_bps"])
        if "rtt_ms" in body:
            self.rtt_s = float(body["rtt_ms"]) / 1000.0
        if cut is True:
            self.set_cut()
        elif cut is False:
            self.restore()
        if body.get("cut_after_bytes") is not None:
            self.schedule_cut(after_bytes=int(body["cut_after_bytes"]))
        if cut_in is not None:
            self.schedule_cut(random_in=(float(cut_in[0]), float(cut_in[1])))

    def state(self) -> dict[str, Any]:
        return {
            "bandwidth_bps": self.bandwidth_bps,
            "rtt_ms": self.rtt_s * 1000.0,
            "cut": self.cut,
            "cuts": self.cuts,
            "cut_after_bytes": self.cut_after_bytes,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "body_bytes": self.body_bytes,
            "busy_s": self.busy_s,
        }
