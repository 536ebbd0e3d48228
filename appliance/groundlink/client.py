"""Every HTTP exchange with the ground station goes through one `GroundClient`: one aiohttp session (kept-alive
connections), a timeout on every request, and the bytes of each exchange counted (for metrics and, when
roaming, against the operator's byte budget through a `Meter`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from appliance.groundlink.metrics import GroundlinkMetrics
from appliance.metrics import Metrics

# Headers of an answer the client does not see in raw_headers' sum (status line, CRLFs): counted on top.
STATUS_LINE = 17
# What an exchange may cost beyond the request body (request headers, the answer): the budget reserves it.
EXCHANGE_ALLOWANCE = 2048


class BudgetExhausted(Exception):
    """The roaming byte budget cannot cover another exchange today."""


class Meter(Protocol):
    def reserve(self, nbytes: int) -> None:
        """Count `nbytes` as spent before they are sent. Raises BudgetExhausted."""
        ...

    def settle(self, reserved: int, actual: int) -> None:
        """The exchange is over: it cost `actual`, not `reserved`."""
        ...


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    sent: int
    received: int

    def json(self) -> Any:
        return json.loads(self.body)

    def error_text(self) -> str:
        """The station's JSON `error`, or the start of the body."""
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            return self.body[:200].decode("utf-8", "replace")
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return str(data["error"])
        return self.body[:200].decode("utf-8", "replace")


class GroundClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, metrics: Metrics) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.metrics = metrics.of(GroundlinkMetrics)
        self.meter: Meter | None = None
        self.bytes_sent = 0
        self.bytes_received = 0
        self._sent_metric = self.metrics.groundlink_bytes.labels(direction="sent")
        self._received_metric = self.metrics.groundlink_bytes.labels(direction="received")

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        time_limit: float,
    ) -> Reply:
        """One exchange. Raises aiohttp.ClientError / TimeoutError for the network, BudgetExhausted."""
        meter = self.meter
        size = len(body or b"")
        reserved = size + EXCHANGE_ALLOWANCE
        if meter is not None:
            meter.reserve(reserved)
        sent = size + len(method) + len(path) + 200  # until the real request headers are known
        received = 0
        all_headers = dict(headers or {})
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                data=body,
                headers=all_headers,
                timeout=aiohttp.ClientTimeout(total=time_limit),
            ) as response:
                sent = _request_bytes(method, path, response.request_info.headers, size)
                data = await response.read()
                received = STATUS_LINE + sum(len(k) + len(v) + 4 for k, v in response.raw_headers) + 2 + len(data)
                return Reply(response.status, dict(response.headers), data, sent, received)
        finally:
            self.bytes_sent += sent
            self.bytes_received += received
            self._sent_metric.inc(sent)
            self._received_metric.inc(received)
            if meter is not None:
                meter.settle(reserved, sent + received)


def _request_bytes(method: str, path: str, headers: Mapping[str, str], body_size: int) -> int:
    line = len(method) + len(path) + 12
    return line + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2 + body_size
