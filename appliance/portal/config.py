from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class PortalConfig:
    """[portal]: the passenger listener."""

    listen: str = "0.0.0.0:80"
    profile: Literal["air", "ground"] = "air"
