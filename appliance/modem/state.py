"""The modem's state, modelled on ModemManager's MMModemState (numeric values kept for the metric)."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.ports import ModemState
from hal.modem import Registration, RegStat

__all__ = ["DOMAINS", "PREFIX_DOMAIN", "ModemState", "NetworkStatus"]


DOMAINS = ("cs", "ps", "eps")  # +CREG, +CGREG, +CEREG
PREFIX_DOMAIN = {"+CREG:": "cs", "+CGREG:": "ps", "+CEREG:": "eps"}


@dataclass
class NetworkStatus:
    """What the modem last said about the network, per domain."""

    registrations: dict[str, Registration] = field(default_factory=dict)
    sim: str | None = None  # READY, SIM PIN, missing, failure
    signal_dbm: float | None = None
    operator: str | None = None
    act: int | None = None

    def best(self) -> Registration | None:
        """The registration that matters for data: a registered packet domain first, then circuit."""
        for domain in ("eps", "ps", "cs"):
            registration = self.registrations.get(domain)
            if registration is not None and registration.stat.registered:
                return registration
        for domain in ("eps", "ps", "cs"):
            registration = self.registrations.get(domain)
            if registration is not None:
                return registration
        return None

    @property
    def registered(self) -> bool:
        best = self.best()
        return best is not None and best.stat.registered

    @property
    def roaming(self) -> bool:
        best = self.best()
        return best is not None and best.stat.registered and best.stat.roaming

    def derive(self) -> tuple[ModemState, str]:
        """The state and, where it is not plain, the reason."""
        if self.sim == "missing":
            return ModemState.FAILED, "SIM missing"
        if self.sim == "failure":
            return ModemState.FAILED, "SIM failure"
        if self.sim is not None and self.sim != "READY":
            return ModemState.LOCKED, f"SIM locked ({self.sim})"
        if self.registered:
            return ModemState.REGISTERED, "roaming" if self.roaming else "home"
        stats = {r.stat for r in self.registrations.values()}
        if RegStat.DENIED in stats:
            return ModemState.ENABLED, "registration denied"
        if RegStat.SEARCHING in stats:
            return ModemState.SEARCHING, "searching"
        return ModemState.ENABLED, "not registered"
