from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StorageConfig:
    """[storage]: the state directory (journal, outbox, state files)."""

    dir: str = "/var/lib/appliance"
