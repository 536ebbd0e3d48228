"""Regenerate the avionics trace corpus (captures from the simulator) and/or its goldens. Never run by tests.

    PYTHONPATH=. python -m tests.data.avionics.make_corpus            # new captures + goldens
    PYTHONPATH=. python -m tests.data.avionics.make_corpus --goldens  # goldens only, from the captures here
    (or: make avionics-corpus / make avionics-goldens)

A capture is made with the real `appliance capture` against `python -m firmware_sim`, the faults injected
through the simulator's control listener while it records. A golden is `appliance replay --speed 0` of it.
Review the diff of the goldens before committing them: they are what the tests hold the reader to.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# name: (scenario position, speed, capture seconds, [(after seconds, fault kind, fault seconds)], description)
CAPTURES: dict[str, tuple[str, float, float, list[tuple[float, str, float]], str]] = {
    "normal": ("takeoff", 20.0, 6.0, [], "takeoff roll into the climb out of Barcelona, speed 20"),
    "noisy": ("cruise", 1.0, 5.0, [(0.5, "garbage", 3.5), (0.5, "crc", 3.5), (0.5, "parity", 3.5)],
              "cruise with garbage bytes, CRC and parity errors for 3.5 s"),
    "unplug": ("approach", 1.0, 7.0, [(1.0, "unplug", 3.0)], "approach; the adapter unplugged for 3 s"),
}


def _post(control: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(f"http://{control}{path}", json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).read()


def make_capture(name: str) -> None:
    at, speed, seconds, faults, _ = CAPTURES[name]
    sim = subprocess.Popen([sys.executable, "-m", "firmware_sim", "--control", "127.0.0.1:0", "--scenario", "flight"],
                           stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert sim.stdout is not None
        endpoints = json.loads(sim.stdout.readline())
        control = endpoints["control"]
        _post(control, "/scenario", {"name": "flight", "speed": speed, "at": at})
        out = HERE / f"{name}.cap"
        recorder = subprocess.Popen([sys.executable, "-m", "appliance", "capture", "--port", endpoints["avionics.port"],
                                     "--out", str(out), "--seconds", str(seconds)], cwd=REPO)
        started = time.monotonic()
        for after, kind, duration in faults:
            time.sleep(max(0.0, started + after - time.monotonic()))
            _post(control, "/avionics/faults", {"kind": kind, "seconds": duration})
        recorder.wait(timeout=seconds + 30)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def make_golden(name: str) -> None:
    from appliance.avionics.capture_cli import replay_lines

    lines = replay_lines(HERE / f"{name}.cap")
    (HERE / f"{name}.golden.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goldens", action="store_true", help="only rewrite the goldens from the captures here")
    parser.add_argument("names", nargs="*", default=sorted(CAPTURES))
    args = parser.parse_args()
    for name in args.names:
        if not args.goldens:
            make_capture(name)
        make_golden(name)
        print(f"{name}: {CAPTURES[name][4]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
