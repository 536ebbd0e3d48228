"""The discrete signals' and power-fail Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(DiscretesMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

FLUSH_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)


class DiscretesMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.discrete_state = Gauge(
            "appliance_discrete_state", "Logical state of each discrete signal (1 active).", ["signal"], registry=r
        )
        self.power_fail_flush = Histogram(
            "appliance_power_fail_flush_seconds",
            "Time from the power-fail edge to the last fsync.",
            buckets=FLUSH_BUCKETS,
            registry=r,
        )
        self.power_fail_events = Counter(
            "appliance_power_fail_events_total",
            "Power-fail edges by outcome: ride_through, stop, unconfirmed (no CPLD confirmation).",
            ["outcome"],
            registry=r,
        )
        self.discrete_transitions = Counter(
            "appliance_discrete_transitions_total", "Accepted (debounced) changes per signal.", ["signal"], registry=r
        )
        self.hardware_info = Info(
            "appliance_hardware", "Built-in test at boot: CPLD revision, strapping, loopback result.", registry=r
        )
        self.bit_passed = Gauge("appliance_bit_passed", "1 when the boot built-in test passed.", registry=r)
