"""The maintenance listener's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(MaintenanceMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class MaintenanceMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.maintenance_auth_failures = Counter(
            "appliance_maintenance_auth_failures_total", "Maintenance requests with a missing or wrong token.",
            registry=r,
        )
