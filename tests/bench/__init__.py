"""Benchmarks (`make bench`): each `bench_*.py` module measures against its reference in the same run.

On a shared, noisy machine one figure means little, so a figure with a reference is measured in rounds
(`alternate`): ours and the reference take turns (ABBA order, so a drift in the machine's load hits both
alike), on the same files and bytes, ROUNDS times at least. The figure keeps every round's samples; its value,
reference and ratio are medians, and `ratio_range` is the lowest and highest per-round ratio. `make
bench-compare` (tests/bench/compare.py) reads two runs' JSON and flags a regression beyond that noise.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

ROUNDS = max(5, int(os.environ.get("BENCH_ROUNDS", "5")))


@dataclass
class Rounds:
    """Per-round samples of ours and of the reference (same length, same order of rounds)."""

    ours: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.reference, strict=True) if b]


def alternate(ours: Callable[[], float], reference: Callable[[], float], rounds: int = ROUNDS) -> Rounds:
    """Run `ours` and `reference` `rounds` times each, alternating ABBA (ours first in even rounds): the
    figures of each round. Raises whatever either side raises (a failed round is never averaged away)."""
    out = Rounds()
    for i in range(rounds):
        if i % 2 == 0:
            out.ours.append(ours())
            out.reference.append(reference())
        else:
            out.reference.append(reference())
            out.ours.append(ours())
    return out


@dataclass
class Figure:
    """One measured figure. `ratio` is ours against the reference measured in the same run, where there is one;
    with samples it is the median of the per-round ratios and `ratio_range` their (lowest, highest).
    `higher_is_better` says which way a change is a regression (for bench-compare)."""

    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    higher_is_better: bool | None = None
    samples: list[float] = field(default_factory=list)
    reference_samples: list[float] = field(default_factory=list)
    ratio_range: tuple[float, float] | None = None

    @classmethod
    def from_rounds(
        cls,
        name: str,
        unit: str,
        rounds: Rounds,
        *,
        reference_name: str,
        goal: str,
        met: Callable[[float, float], bool | None] | None = None,
        higher_is_better: bool = True,
    ) -> Figure:
        """A figure from alternating rounds: medians, and `met(value, ratio)` judged on the medians."""
        value = statistics.median(rounds.ours)
        reference = statistics.median(rounds.reference)
        ratios = rounds.ratios
        ratio = statistics.median(ratios) if ratios else None
        judged = met(value, ratio) if met is not None and ratio is not None else None
        return cls(name, value, unit, reference, reference_name, ratio, goal, judged, higher_is_better,
                   list(rounds.ours), list(rounds.reference), (min(ratios), max(ratios)) if ratios else None)

    @classmethod
    def from_samples(
        cls, name: str, unit: str, samples: list[float], *, goal: str = "",
        met: Callable[[float], bool] | None = None, higher_is_better: bool | None = None,
    ) -> Figure:
        """A figure without a reference, from repeated samples (the median is the value)."""
        value = statistics.median(samples)
        return cls(name, value, unit, goal=goal, met=met(value) if met is not None else None,
                   higher_is_better=higher_is_better, samples=list(samples))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
