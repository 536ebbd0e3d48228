"""The TUF trust's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(TrustMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class TrustMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.trust_refusals = Counter(
            "appliance_trust_refusals_total",
            "What the ground served and the aircraft refused, by reason (appliance.trust.refusal.Refusal).",
            ["reason"],
            registry=r,
        )
