from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MaintenanceConfig:
    """[maintenance]: the engineers' listener (health, metrics, admin), bearer token on all but /livez."""

    listen: str = "0.0.0.0:9180"
    token_file: str = "/etc/appliance/maintenance.token"
