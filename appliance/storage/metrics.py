"""The journal's and the outbox's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(StorageMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class StorageMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.outbox_pending = Gauge(
            "appliance_outbox_pending", "Orders waiting for the ground window.", ["kind"], registry=r
        )
        self.outbox_delivered = Counter(
            "appliance_outbox_delivered_total", "Orders the ground station confirmed.", ["kind"], registry=r
        )
        self.storage_unsafe_shutdowns = Counter(
            "appliance_storage_unsafe_shutdowns_total", "Boots that found no clean-shutdown marker.", registry=r
        )
        self.storage_recovery_seconds = Gauge(
            "appliance_storage_recovery_seconds", "Time the last journal recovery took.", registry=r
        )
        self.storage_corrupt_regions = Gauge(
            "appliance_storage_corrupt_regions", "Corrupt regions the last journal recovery found.", registry=r
        )
        self.storage_refusing = Gauge(
            "appliance_storage_refusing_writes", "1 while the journal refuses writes (failed, full, frozen).",
            registry=r,
        )
        self.storage_journal_bytes = Gauge(
            "appliance_storage_journal_bytes", "Journal bytes written since the last checkpoint.", registry=r
        )
