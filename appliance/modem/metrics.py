"""The modem's Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(ModemMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class ModemMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.modem_state = Gauge(
            "appliance_modem_state", "Modem state as ModemManager's numeric MMModemState.", registry=r
        )
        self.modem_signal_dbm = Gauge("appliance_modem_signal_dbm", "Modem signal strength (dBm).", registry=r)
        self.modem_roaming = Gauge("appliance_modem_roaming", "1 while registered roaming.", registry=r)
