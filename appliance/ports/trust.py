"""The trust component's port (TRUST): the TUF metadata refresh, and the verified metadata in use that the
updater checks releases against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from appliance.ports.content import ContentVerifier

# --- trust -> ground link ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustRefresh:
    """One metadata refresh: `ok`, or why not (`refusal`: an attack; `problem`: the link, the disk, no root)."""

    ok: bool
    refusal: str | None = None
    problem: str | None = None
    versions: Mapping[str, int] = field(default_factory=dict)
    bytes: int = 0
    cpu_seconds: float = 0.0


class Trust(ContentVerifier, Protocol):
    async def refresh(self, base_url: str) -> TrustRefresh:
        """Refresh the TUF metadata from the repository under `base_url` (timestamp -> snapshot -> targets, root
        rotations first), judged at the trusted time. Never raises for what the ground served; the last good
        metadata stays in use unless all of the new verified."""
        ...

    def telemetry(self) -> dict[str, Any]:
        """For the summary sent to the ground: {"versions", "refusing", "refusals", "problem"}."""
        ...

    def signed(self) -> SignedTargets | None:
        """The verified metadata in use (what the updater checks releases against); None before any refresh."""
        ...


# --- trusted metadata (appliance.trust's TrustedMetadata fits as it is) -> the updater ---------------------

class SignedTargetInfo(Protocol):
    @property
    def length(self) -> int: ...

    @property
    def hashes(self) -> Mapping[str, str]: ...


class SignedTargetsList(Protocol):
    @property
    def targets(self) -> Mapping[str, SignedTargetInfo]: ...


class SignedView(Protocol):
    @property
    def targets(self) -> SignedTargetsList: ...


class SignedTargets(Protocol):
    """The verified TUF metadata in use (appliance.trust.client.TrustedMetadata, after the window's refresh)."""

    @property
    def targets_url(self) -> str: ...

    def view(self) -> SignedView | None:
        """None when there is no verified metadata yet."""
        ...
