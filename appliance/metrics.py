"""The daemon's Prometheus registry (never the process-wide default) and the series no one component owns.

Each component declares its own series in its package (`appliance/<name>/metrics.py`, a class taking the
registry) and gets them with `metrics.of(ThatClass)`: created on first use, the same object after, so every
part of a component shares one set and a series is never registered twice. Here stay the daemon's own series
(build, watchdog, READY, reloads) and those of shared modules (alarms, the HTTP guard of both listeners). The
maintenance listener exposes `registry`. Names are the contract's (shared/CONTRACT.md): add freely, rename
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from appliance import __version__

S = TypeVar("S")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._series: dict[Callable[[CollectorRegistry], Any], Any] = {}
        self.build_info = Info("appliance_build", "Build of the running daemon.", registry=r)
        self.build_info.info({"version": __version__})

        # alarms (appliance/alarms.py, shared by every component that raises one)
        self.alarm_active = Gauge("appliance_alarm_active", "1 while an alarm is active.", ["name"], registry=r)
        self.alarm_latched = Gauge(
            "appliance_alarm_latched", "1 while an alarm's record waits for an acknowledgement (active or cleared).",
            ["name"], registry=r,
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

    def of(self, series: Callable[[CollectorRegistry], S]) -> S:
        """The component series `series` (a class taking the registry) on this registry, made on first use."""
        found = self._series.get(series)
        if found is None:
            found = self._series[series] = series(self.registry)
        return cast(S, found)
