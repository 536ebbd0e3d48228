"""The ground link's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(GroundlinkMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class GroundlinkMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.groundlink_window_open = Gauge(
            "appliance_groundlink_window_open", "1 while the ground window is open.", registry=r
        )
        self.groundlink_requests = Counter(
            "appliance_groundlink_requests_total",
            "Exchanges with the ground station by outcome (delivered, retry, dead_letter, error).",
            ["outcome"],
            registry=r,
        )
        self.groundlink_bytes = Counter(
            "appliance_groundlink_bytes_total", "HTTP bytes exchanged with the ground station.", ["direction"],
            registry=r,
        )
        self.groundlink_dead_letters = Counter(
            "appliance_groundlink_dead_letters_total", "Orders the ground refused for good.", ["kind"], registry=r
        )
        self.groundlink_clock_skew = Gauge(
            "appliance_groundlink_clock_skew_seconds", "Ground station time minus the wall clock.", registry=r
        )
        self.groundlink_roaming_bytes = Gauge(
            "appliance_groundlink_roaming_bytes", "Bytes spent today while roaming, per operator.", ["operator"],
            registry=r,
        )
