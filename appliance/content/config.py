"""The content component."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContentConfig:
    """[content]: the content store."""

    dir: str = "/var/lib/appliance/content"
    rehash_mb_per_s: float = 20.0  # background re-hash I/O rate; 0 disables it
    rehash_pause_s: float = 3600.0  # pause between two full background passes
    scan_interval_s: float = 300.0  # incremental re-scan even without file events (events can be lost)
    watch: bool = True  # filesystem events (watchdog) for quick notice of changes
    sync_concurrency: int = 3  # range requests in flight during a content sync
    quarantine_keep: int = 200  # quarantined files kept for engineers (newest first); older ones are removed

    def validate(self) -> None:
        if self.rehash_mb_per_s < 0:
            raise ValueError("rehash_mb_per_s", "must be >= 0")
        if self.scan_interval_s <= 0:
            raise ValueError("scan_interval_s", "must be > 0")
        if self.quarantine_keep < 0:
            raise ValueError("quarantine_keep", "must be >= 0")
        if not 1 <= self.sync_concurrency <= 16:
            raise ValueError("sync_concurrency", "must be 1..16")
