from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StorageConfig:
    """[storage]: the state directory (journal, outbox, state files) and how the journal is kept."""

    dir: str = "/var/lib/appliance"
    segment_bytes: int = 4 * 1024 * 1024  # a journal segment is sealed and a new one started past this
    checkpoint_bytes: int = 16 * 1024 * 1024  # journal written since the snapshot that triggers a checkpoint
    checkpoint_interval: float = 600.0  # seconds: also checkpoint this often when anything was written
    keep_delivered: int = 1000  # delivered outbox items kept (the ground station has them)
    time_poll_interval: float = 10.0  # seconds between avionics UTC polls and time-floor saves
    floor_save_interval: float = 60.0  # seconds between time-floor saves
    max_future_days: float = 400.0  # an RTC further than this past the time floor is not trusted
    power_fail_budget: float = 0.04  # seconds emergency_flush waits for os.sync after the journal is durable
