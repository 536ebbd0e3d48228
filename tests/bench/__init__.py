"""Benchmarks (`make bench`): each `bench_*.py` module measures against its reference in the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Figure:
    """One measured figure. `ratio` is ours against the reference measured in the same run, where there is one."""

    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
