"""The modem's port (MODEM) and the discrete signals' (DISCRETES; the modem's power through them:
MODEM_POWER)."""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Protocol

# --- modem, discretes -> ground link, maintenance -------------------------------------------------------

class ModemState(IntEnum):
    """ModemManager's MMModemState, with its numbering (the contract's `appliance_modem_state`)."""

    FAILED = -1
    UNKNOWN = 0
    INITIALIZING = 1
    LOCKED = 2
    DISABLED = 3
    DISABLING = 4
    ENABLING = 5
    ENABLED = 6
    SEARCHING = 7
    REGISTERED = 8
    DISCONNECTING = 9
    CONNECTING = 10
    CONNECTED = 11

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def is_registered(self) -> bool:
        """Registered on a network (REGISTERED and the connection states above it)."""
        return self >= ModemState.REGISTERED


class ModemView(Protocol):
    @property
    def state(self) -> ModemState: ...

    @property
    def registered(self) -> bool: ...

    @property
    def roaming(self) -> bool: ...

    @property
    def operator(self) -> str | None:
        """MCC+MNC, e.g. "26202"."""
        ...

    def snapshot(self) -> dict[str, Any]: ...


class ModemPower(Protocol):
    async def power_cycle(self, off_seconds: float) -> None: ...


class DiscretesControl(Protocol):
    def snapshot(self) -> dict[str, Any]:
        """Every signal: state, direction, transitions, last change."""
        ...

    def set_output(self, name: str, value: bool, actor: str) -> None:
        """Raises KeyError for an unknown signal, ValueError for an input."""
        ...
