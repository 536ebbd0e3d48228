"""Run one content sync in this process (to be SIGKILLed by the test): `python -m tests.content_killsync
STORE URL`. Prints "started" once the sync is under way."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync


async def main(store_dir: str, url: str) -> None:
    print("started", flush=True)
    result = await ContentSync(ContentStore(Path(store_dir)), url, concurrency=3).sync()
    print(result.status, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
