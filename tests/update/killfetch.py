"""A child process for the fetch kill storm: refresh the trusted metadata and run the update window against the
ground at URL until the release is installed; prints the window's result as JSON per attempt.

    python -m tests.update.killfetch URL PINNED_ROOT WORKDIR
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

from appliance.trust.client import TrustedMetadata
from appliance.trust.fetcher import LoopFetcher
from appliance.update.config import UpdateConfig
from appliance.update.layout import Layout
from appliance.update.window import WindowRunner
from tests.trust.support import T_NOW


async def main(url: str, pinned: Path, work: Path) -> int:
    config = UpdateConfig(root=str(work / "opt"), python=sys.executable)
    layout = Layout(work / "opt", work / "state")
    async with aiohttp.ClientSession() as session:
        fetcher = LoopFetcher(session, asyncio.get_running_loop())
        trusted = TrustedMetadata.from_files(work / "metadata", pinned, url, fetcher)
        outcome = await asyncio.to_thread(trusted.refresh, T_NOW)
        if not outcome.ok:
            print(json.dumps({"status": "refresh", "outcome": str(outcome)}), flush=True)
            return 1
        result = await WindowRunner(config, layout).run(session, trusted, None)
        print(json.dumps(result), flush=True)
    return 0 if result["status"] == "installed" else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
