"""`python -m tests.bench.compare OLD NEW [--threshold 0.10]`: compare two benchmark runs (`make bench-compare`).

OLD and NEW are run directories (`bench-results/runs/<time>/`) or single `<name>.json` files; with no
arguments, the two newest runs. Figures are matched by name. Each is compared on its ratio to the reference
(measured in the same run, so the machine's load mostly cancels) or, without a reference, on its value.
A figure is a REGRESSION when it moved the wrong way by more than the threshold AND beyond the noise: its
range over rounds in NEW does not overlap OLD's (a figure without rounds is judged on the threshold alone).
Exit status 1 when any figure regressed, 2 on bad arguments; figures without a known direction are shown only.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "bench-results"


@dataclass
class Point:
    """One figure's compared quantity: its median and its (low, high) over rounds."""

    median: float
    low: float
    high: float
    better_up: bool | None


def _point(figure: dict[str, Any]) -> Point | None:
    better_up = figure.get("higher_is_better")
    if figure.get("ratio") is not None:
        ratio = float(figure["ratio"])
        low, high = figure.get("ratio_range") or (ratio, ratio)
        return Point(ratio, float(low), float(high), better_up)
    value = figure.get("value")
    if not isinstance(value, (int, float)):
        return None
    samples = figure.get("samples") or [value]
    return Point(float(value), float(min(samples)), float(max(samples)), better_up)


def load(path: Path) -> dict[str, dict[str, Any]]:
    """Figures by '<bench>: <name>' from a run directory or one JSON file. Raises ValueError when unreadable."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"no figures in {path}")
    out: dict[str, dict[str, Any]] = {}
    for file in files:
        try:
            figures = json.loads(file.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{file}: {error}") from error
        for figure in figures:
            out[f"{file.stem}: {figure['name']}"] = figure
    return out


def verdict(old: Point, new: Point, threshold: float) -> str:
    """'REGRESSION', 'improved', 'same' (within the noise or the threshold) or 'changed' (direction unknown)."""
    if old.median == 0:
        return "same" if new.median == 0 else "changed"
    change = (new.median - old.median) / abs(old.median)
    if abs(change) <= threshold:
        return "same"
    overlap = new.low <= old.high and old.low <= new.high
    rounds = (old.low, old.high) != (old.median, old.median) and (new.low, new.high) != (new.median, new.median)
    if overlap and rounds:
        return "same"
    if old.better_up is None:
        return "changed"
    worse = change < 0 if old.better_up else change > 0
    return "REGRESSION" if worse else "improved"


def _runs() -> list[Path]:
    return sorted(p for p in (RESULTS / "runs").glob("*") if p.is_dir())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench-compare", description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?", type=Path)
    parser.add_argument("new", nargs="?", type=Path)
    parser.add_argument("--threshold", type=float, default=0.10, help="relative change that counts (0.10)")
    args = parser.parse_args(argv)
    if args.old is None or args.new is None:
        runs = _runs()
        if len(runs) < 2:
            print("bench-compare: need OLD and NEW (fewer than two runs in bench-results/runs)", file=sys.stderr)
            return 2
        args.old, args.new = runs[-2], runs[-1]
    try:
        old, new = load(args.old), load(args.new)
    except ValueError as error:
        print(f"bench-compare: {error}", file=sys.stderr)
        return 2
    regressions = 0
    print(f"old {args.old}\nnew {args.new}")
    for key in sorted(old.keys() & new.keys()):
        a, b = _point(old[key]), _point(new[key])
        if a is None or b is None:
            continue
        what = verdict(a, b, args.threshold)
        regressions += what == "REGRESSION"
        kind = "ratio" if old[key].get("ratio") is not None else "value"
        print(f"  {what:10} {key}: {kind} {a.median:.4g} [{a.low:.4g}..{a.high:.4g}] -> "
              f"{b.median:.4g} [{b.low:.4g}..{b.high:.4g}]")
    for key in sorted(new.keys() - old.keys()):
        print(f"  new        {key}")
    for key in sorted(old.keys() - new.keys()):
        print(f"  gone       {key}")
    print(f"{regressions} regression(s) beyond the noise (threshold {args.threshold:.0%})")
    return 1 if regressions else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
