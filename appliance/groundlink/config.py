from __future__ import annotations

import re
from dataclasses import dataclass, field

AIRCRAFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")


@dataclass(frozen=True)
class GroundlinkConfig:
    """[groundlink]: the ground station reached in the ground window.

    Without a modem component (`ctx.modem` is None) the window never opens unless `modem_required = false`
    (a test rig or a maintenance bench on Ethernet); without flight state (`ctx.flight` is None) likewise
    with `flight_required`. A flight state that does not know whether the aircraft is on the ground keeps
    the window closed: nothing is sent unless the aircraft is known to be on the ground.
    """

    url: str
    poll_seconds: float = 2.0  # how often the window conditions are re-evaluated
    health_seconds: float = 30.0  # while open and idle, how often the station's health is re-checked
    health_timeout: float = 5.0
    request_timeout: float = 20.0
    backoff_initial: float = 0.5  # exponential backoff with full jitter on 5xx, timeouts, connection errors
    backoff_max: float = 60.0
    retries_per_cycle: int = 6  # then the kind waits for the next cycle, so lower priorities still run
    in_flight_per_kind: int = 1  # 1 keeps strict order per kind; more pipelines (order then best effort)
    orders_path: str = "/orders/{kind}"
    health_path: str = "/health"
    time_path: str = "/time"
    telemetry_path: str = "/telemetry"
    telemetry: bool = True
    schedule_path: str = "/schedule.json"  # a static document (any web server or object store): upcoming legs
    schedule: bool = True
    full_cycle_seconds: float = 300.0  # while the window stays open, telemetry and content again this often
    clock_check: bool = True
    modem_required: bool = True
    flight_required: bool = True
    roaming_budget_bytes: int = 1_000_000  # per operator (MCC+MNC) per UTC day, unless listed below
    roaming_budgets: dict[str, int] = field(default_factory=dict)  # {"26202": 500000}
    # The HTTPS certificate (appliance/groundlink/certificates.py, docs/tls.md): the aircraft's own key and CSR,
    # POST {certificates_path}/{aircraft}/csr; the signed target certificates/{aircraft}/cert.pem back, served at
    # GET {certificates_path}/{aircraft}/cert.pem. No `aircraft` (or a portal without tls_listen): no step.
    aircraft: str = ""  # this aircraft's name on the ground (e.g. its registration, "EC-MXV")
    certificates_path: str = "/certificates"
    certificate_renew_days: int = 30  # ask for a new certificate when the served one expires sooner than this

    def validate(self) -> None:
        positive = ("poll_seconds", "full_cycle_seconds", "health_seconds", "health_timeout", "request_timeout")
        for name in (*positive, "backoff_initial"):
            if getattr(self, name) <= 0:
                raise ValueError(name, "must be > 0")
        if self.backoff_max < self.backoff_initial:
            raise ValueError("backoff_max", "must be >= backoff_initial")
        if self.retries_per_cycle < 1:
            raise ValueError("retries_per_cycle", "must be >= 1")
        if self.in_flight_per_kind < 1:
            raise ValueError("in_flight_per_kind", "must be >= 1")
        if "{kind}" not in self.orders_path:
            raise ValueError("orders_path", "must contain {kind}")
        if self.roaming_budget_bytes < 0:
            raise ValueError("roaming_budget_bytes", "must be >= 0")
        for operator, budget in self.roaming_budgets.items():
            if not re.fullmatch(r"\d{5,6}", operator):
                raise ValueError(f"roaming_budgets.{operator}", "expected an MCC+MNC of 5 or 6 digits")
            if budget < 0:
                raise ValueError(f"roaming_budgets.{operator}", "must be >= 0")
        if self.aircraft and not AIRCRAFT.fullmatch(self.aircraft):
            raise ValueError("aircraft", "expected 1 to 32 letters, digits or '-' (e.g. EC-MXV)")
        if not self.certificates_path.startswith("/"):
            raise ValueError("certificates_path", "must start with /")
        if self.certificate_renew_days < 1:
            raise ValueError("certificate_renew_days", "must be >= 1")

    def roaming_budget(self, operator: str | None) -> int:
        return self.roaming_budgets.get(operator or "", self.roaming_budget_bytes)
