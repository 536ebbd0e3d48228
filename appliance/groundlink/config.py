from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GroundlinkConfig:
    """[groundlink]: the ground station reached in the ground window."""

    url: str
