"""The content store's and sync's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(ContentMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ContentMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.content_problems = Counter(
            "appliance_content_problems_total", "Content-store problems found (and quarantined).", ["kind"], registry=r
        )
        self.content_sync_bytes = Counter(
            "appliance_content_sync_bytes_total", "Content bytes staged, by source.", ["source"], registry=r
        )
        self.content_corrupt_chunks = Counter(
            "appliance_content_corrupt_chunks_total", "Downloaded chunks that failed their hash.", registry=r
        )
        self.content_syncs = Counter(
            "appliance_content_syncs_total", "Content sync attempts, by result.", ["status"], registry=r
        )
        self.content_unusable_answers = Counter(
            "appliance_content_unusable_answers_total",
            "Ground answers the content sync could not use (file skipped for that attempt), by reason.",
            ["reason"],
            registry=r,
        )
        self.fsck_errors = Gauge(
            "appliance_fsck_errors", "Content-store errors found by the last check.", ["kind"], registry=r
        )
