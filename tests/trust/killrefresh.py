"""Refresh trusted metadata over and over in this process (to be SIGKILLed by the test):
`python -m tests.trust.killrefresh METADATA_DIR PINNED_ROOT URL REFERENCE_TIME`. Prints one line per
refresh: "ok <versions>" or "no <reason>"."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

from appliance.trust.client import TrustedMetadata
from appliance.trust.fetcher import LoopFetcher


async def main(metadata_dir: str, pinned_root: str, url: str, reference: float) -> None:
    print("started", flush=True)
    async with aiohttp.ClientSession() as session:
        fetcher = LoopFetcher(session, asyncio.get_running_loop(), read_timeout=5.0, min_rate=0.0)
        while True:
            trusted = TrustedMetadata.from_files(Path(metadata_dir), Path(pinned_root), url, fetcher)
            outcome = await asyncio.to_thread(trusted.refresh, reference)
            if outcome.ok:
                print(f"ok {json.dumps(outcome.versions)}", flush=True)
            else:
                print(f"no {outcome.refusal} {outcome.link_error} {outcome.disk_error}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
