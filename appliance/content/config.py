from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContentConfig:
    """[content]: the content store."""

    dir: str = "/var/lib/appliance/content"
