"""Run one content sync in this process (to be SIGKILLed by the test): `python -m tests.content_killsync
STORE URL`. Prints "started" once the sync is under way, then the bytes received so far as each piece
arrives (before it is written: what a kill loses is counted as received)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync


async def main(store_dir: str, url: str) -> None:
    print("started", flush=True)
    received = 0

    def count(nbytes: int) -> None:
        nonlocal received
        received += nbytes
        sys.stdout.write(f"{received}\n")
        sys.stdout.flush()

    sync = ContentSync(ContentStore(Path(store_dir)), url, concurrency=3, on_received=count)
    result = await sync.sync()
    print(f"done {result.status}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
