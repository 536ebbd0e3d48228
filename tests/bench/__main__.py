"""`python -m tests.bench [NAME ...]`: run every bench_*.py (or the named ones), print and save the figures.

Each run's figures go to `bench-results/runs/<UTC time>/<name>.json` (and, as the latest, to
`bench-results/<name>.json`); `python -m tests.bench.compare OLD NEW` compares two runs."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

from tests.bench import Figure

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "bench-results"


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _spread(samples: list[float]) -> str:
    return f" [{_fmt(min(samples))}..{_fmt(max(samples))}]" if len(samples) > 1 else ""


def describe(f: Figure) -> str:
    """One printed line: medians with the range over rounds where there are rounds."""
    verdict = {True: "met", False: "MISSED", None: ""}[f.met]
    rounds = f" ({len(f.samples)} rounds)" if len(f.samples) > 1 else ""
    ref = ""
    if f.reference is not None:
        ref = f" vs {f.reference_name} {_fmt(f.reference)}{_spread(f.reference_samples)}"
    ratio = ""
    if f.ratio is not None:
        lo_hi = f" [{f.ratio_range[0]:.3g}..{f.ratio_range[1]:.3g}]" if f.ratio_range else ""
        ratio = f" ratio {f.ratio:.3g}{lo_hi}"
    return f"  {f.name}: {_fmt(f.value)}{_spread(f.samples)} {f.unit}{ref}{ratio}{rounds}  [{f.goal}] {verdict}"


def main(argv: list[str]) -> int:
    known = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    names = [n for arg in argv for n in arg.replace(",", " ").split()] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {known}", file=sys.stderr)
        return 2
    run_dir = RESULTS / "runs" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir.mkdir(parents=True, exist_ok=True)
    missed = 0
    for name in names:
        module = importlib.import_module(f"tests.bench.bench_{name}")
        print(f"== {name}", flush=True)
        started = time.monotonic()
        figures: list[Figure] = module.run()
        for f in figures:
            print(describe(f), flush=True)
            missed += f.met is False
        text = json.dumps([f.as_dict() for f in figures], indent=2)
        (run_dir / f"{name}.json").write_text(text)
        (RESULTS / f"{name}.json").write_text(text)
        print(f"  ({time.monotonic() - started:.1f} s)")
    print(f"benchmarks done: {missed} goal(s) missed; figures in {run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
