"""The passengers' portal's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(PortalMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class PortalMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.sse_clients = Gauge("appliance_sse_clients", "Connected flight-stream clients.", registry=r)
        self.portal_orders = Counter(
            "appliance_portal_orders_total", "Passenger orders by kind and result (stored, refused).",
            ["kind", "result"], registry=r,
        )
        self.portal_sse_dropped = Counter(
            "appliance_portal_sse_dropped_total", "Flight-stream clients dropped for staying behind.", registry=r
        )
