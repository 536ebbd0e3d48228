"""The I2C sensors' Prometheus series (shared/CONTRACT.md names: add freely, rename nothing).

Created once per registry by `Metrics.of(SensorsMetrics)`, so every part of the component shares them.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class SensorsMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.board_temperature = Gauge(
            "appliance_board_temperature_celsius", "Board temperature (LM75).", registry=r
        )
        self.bus_voltage = Gauge("appliance_bus_voltage_volts", "Supply bus voltage (INA219).", registry=r)
        self.current = Gauge("appliance_current_amperes", "Supply current (INA219).", registry=r)
        self.sensor_ok = Gauge("appliance_sensor_ok", "1 while the sensor reads.", ["sensor"], registry=r)
        self.sensor_errors = Counter(
            "appliance_sensor_errors_total", "Failed sensor reads by kind (io, range).", ["sensor", "kind"],
            registry=r,
        )
