"""`python -m tests.bench [NAME ...]`: run every bench_*.py (or the named ones), print and save the figures."""

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


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    RESULTS.mkdir(exist_ok=True)
    missed = 0
    for name in names:
        module = importlib.import_module(f"tests.bench.bench_{name}")
        print(f"== {name}", flush=True)
        started = time.monotonic()
        figures: list[Figure] = module.run()
        for f in figures:
            verdict = {True: "met", False: "MISSED", None: ""}[f.met]
            ref = f" vs {f.reference_name} {_fmt(f.reference)}" if f.reference is not None else ""
            ratio = f" ratio {f.ratio:.3g}" if f.ratio is not None else ""
            print(f"  {f.name}: {_fmt(f.value)} {f.unit}{ref}{ratio}  [{f.goal}] {verdict}", flush=True)
            missed += f.met is False
        (RESULTS / f"{name}.json").write_text(json.dumps([f.as_dict() for f in figures], indent=2))
        print(f"  ({time.monotonic() - started:.1f} s)")
    print(f"benchmarks done: {missed} goal(s) missed; figures in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
