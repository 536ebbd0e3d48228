"""The closing note's figure: a real release (`appliance release build OUTDIR` of this project, every
dependency's wheel from PyPI) published with the ground tools, fetched through the real window over a link
paced to 2 Mbit/s and installed offline into a venv. Not part of `make test` (it takes minutes):

    .venv/bin/python -m tests.update.bench_link RELEASE_DIR WORKDIR
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from tests.update.test_update_window import LINK_RATE, setup, window


def main() -> int:
    built, work = Path(sys.argv[1]), Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    ground, layout, config = setup(work, built, first="0.0.1")
    size = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
    started = time.monotonic()
    result, sent = asyncio.run(window(ground, config, layout, LINK_RATE))
    total = time.monotonic() - started
    print(json.dumps({"release_bytes": size, "sent": sent, "link_seconds_at_2mbit": round(size / LINK_RATE, 1),
                      "window_seconds": total, "fetch_seconds": result.get("seconds"), "status": result["status"],
                      "error": result.get("error")}))
    return 0 if result["status"] == "installed" else 1


if __name__ == "__main__":
    sys.exit(main())
