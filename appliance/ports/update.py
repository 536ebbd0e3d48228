"""The updater's port (UPDATER): new releases, taken in the ground window."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from appliance.ports.trust import SignedTargets

if TYPE_CHECKING:
    import aiohttp


# --- the updater -> ground link (called in the window, after the trust refresh) ---------------------------

class ReleaseUpdater(Protocol):
    async def window(self, session: aiohttp.ClientSession, targets: SignedTargets,
                     budget: Callable[[int], bool] | None = None) -> dict[str, Any]:
        """Take the newest signed release not yet installed nor refused: fetch what is missing (`budget(n)` is
        asked before each request of n bytes; False stops cleanly, resumed next window; cancelling loses at
        most one block), verify it against the signed targets, install it offline. It is activated later, at
        a safe moment. Never raises for what the ground served; returns {"status": "up_to_date" | "budget" |
        "interrupted" | "installed" | "refused" | "failed" | "no_metadata", "version", "bytes_fetched", ...}."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """For the ground's report: current, committed, trial, refused (with reasons), the last event."""
        ...
