"""The ARINC 429 reader's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(AvionicsMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class AvionicsMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.avionics_frames = Counter(
            "appliance_avionics_frames_total", "Adapter frames with a good CRC.", ["channel"], registry=r
        )
        self.avionics_words = Counter(
            "appliance_avionics_words_total", "ARINC 429 words received.", ["channel"], registry=r
        )
        self.avionics_parity_errors = Counter(
            "appliance_avionics_parity_errors_total", "Words with bad odd parity.", ["channel"], registry=r
        )
        self.avionics_line_errors = Counter(
            "appliance_avionics_line_errors_total", "Words the adapter flagged (gap or bit-length error): not used.",
            ["channel"], registry=r
        )
        self.avionics_crc_errors = Counter(
            "appliance_avionics_crc_errors_total", "Adapter frames with a bad CRC.", ["channel"], registry=r
        )
        self.avionics_resyncs = Counter(
            "appliance_avionics_resyncs_total", "Times the frame parser hunted for sync.", ["channel"], registry=r
        )
        self.avionics_parameter_age = Gauge(
            "appliance_avionics_parameter_age_seconds", "Age of each flight parameter.", ["name"], registry=r
        )
