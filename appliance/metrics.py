"""The daemon's Prometheus metrics: one registry (never the process-wide default), the contract's names.

Components receive the `Metrics` object and update their own series; the maintenance listener exposes
`registry`. Names are the contract's (shared/CONTRACT.md): add freely, rename nothing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from appliance import __version__

FLUSH_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Info("appliance_build", "Build of the running daemon.", registry=r)
        self.build_info.info({"version": __version__})

        # avionics
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

        # discretes, alarms, power
        self.discrete_state = Gauge(
            "appliance_discrete_state", "Logical state of each discrete signal (1 active).", ["signal"], registry=r
        )
        self.alarm_active = Gauge("appliance_alarm_active", "1 while an alarm is active.", ["name"], registry=r)
        self.alarm_latched = Gauge(
            "appliance_alarm_latched", "1 while an alarm's record waits for an acknowledgement (active or cleared).",
            ["name"], registry=r,
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

        # sensors
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

        # modem
        self.modem_state = Gauge(
            "appliance_modem_state", "Modem state as ModemManager's numeric MMModemState.", registry=r
        )
        self.modem_signal_dbm = Gauge("appliance_modem_signal_dbm", "Modem signal strength (dBm).", registry=r)
        self.modem_roaming = Gauge("appliance_modem_roaming", "1 while registered roaming.", registry=r)

        # outbox, portal
        self.outbox_pending = Gauge(
            "appliance_outbox_pending", "Orders waiting for the ground window.", ["kind"], registry=r
        )
        self.outbox_delivered = Counter(
            "appliance_outbox_delivered_total", "Orders the ground station confirmed.", ["kind"], registry=r
        )
        self.sse_clients = Gauge("appliance_sse_clients", "Connected flight-stream clients.", registry=r)
        self.portal_orders = Counter(
            "appliance_portal_orders_total", "Passenger orders by kind and result (stored, refused).",
            ["kind", "result"], registry=r,
        )
        self.portal_sse_dropped = Counter(
            "appliance_portal_sse_dropped_total", "Flight-stream clients dropped for staying behind.", registry=r
        )
        # both HTTP listeners (portal, maintenance): what hostile clients cost (appliance/httpserve.py)
        self.http_connections = Gauge(
            "appliance_http_connections", "Open connections per listener.", ["listener"], registry=r
        )
        self.http_connections_refused = Counter(
            "appliance_http_connections_refused_total",
            "Connections closed at once by reason (per_address, total cap) or timed out (header_timeout).",
            ["listener", "reason"], registry=r,
        )
        self.http_accept_errors = Counter(
            "appliance_http_accept_errors_total", "accept() failures (e.g. out of descriptors) per listener.",
            ["listener"], registry=r,
        )
        self.http_bad_requests = Counter(
            "appliance_http_bad_requests_total", "Requests refused by the HTTP parser (malformed).", ["listener"],
            registry=r,
        )
        self.maintenance_auth_failures = Counter(
            "appliance_maintenance_auth_failures_total", "Maintenance requests with a missing or wrong token.",
            registry=r,
        )

        # storage
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
        self.fsck_errors = Gauge(
            "appliance_fsck_errors", "Content-store errors found by the last check.", ["kind"], registry=r
        )

        # the daemon itself (systemd integration)
        self.event_loop_lag = Gauge(
            "appliance_event_loop_lag_seconds", "How late the event loop's periodic timer fired, last time.", registry=r
        )
        self.watchdog_pings = Counter(
            "appliance_watchdog_pings_total", "WATCHDOG=1 notifications sent to systemd.", registry=r
        )
        self.watchdog_withheld = Counter(
            "appliance_watchdog_withheld_total", "Watchdog pings not sent: loop lag or a dead critical component.",
            registry=r,
        )
        self.ready = Gauge("appliance_ready", "1 once the daemon told systemd READY=1, 0 while stopping.", registry=r)
        self.config_reloads = Counter(
            "appliance_config_reloads_total", "SIGHUP config reloads by result.", ["result"], registry=r
        )

        # ground link
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

        # content
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

        # trust (TUF)
        self.trust_refusals = Counter(
            "appliance_trust_refusals_total",
            "What the ground served and the aircraft refused, by reason (appliance.trust.refusal.Refusal).",
            ["reason"],
            registry=r,
        )
