"""A writer to be killed: `python -m tests.storage_killwriter DIR`.

It imports everything once, then for each `life SEED` line on stdin forks a child that recovers the storage in
DIR and appends outbox items from 8 concurrent writers, printing `ack ID` on stdout only after each append
returned (durable). The test SIGKILLs the child at a random moment; this parent prints `pid N` when a child
starts and `reaped` when it is gone. Forking from a warm parent keeps 200 kills within seconds.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from appliance.storage.outbox import JournalOutbox
from appliance.storage.store import Store
from appliance.storage.tinystore import JournaledDB


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # one write per line: atomic on a pipe


async def _life(directory: Path, seed: int) -> None:
    rng = random.Random(seed)
    store = Store.open(directory, segment_bytes=64 * 1024, checkpoint_bytes=256 * 1024)
    outbox = JournalOutbox(lambda: {"wall": 0.0, "quality": "rtc"})
    outbox.attach(JournaledDB(store))
    _say("ready")

    async def writer(w: int) -> None:
        n = 0
        while True:
            item = await outbox.append("booking", {"life": seed, "writer": w, "n": n, "pad": "p" * rng.randrange(200)})
            _say(f"ack {item.id}")
            n += 1

    async def checkpointer() -> None:
        while True:
            await asyncio.sleep(rng.uniform(0.005, 0.05))
            await asyncio.wrap_future(store.checkpoint())

    await asyncio.gather(*(writer(w) for w in range(8)), checkpointer())


def main(argv: list[str]) -> int:
    directory = Path(argv[0])
    for line in sys.stdin:
        _, seed = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(_life(directory, int(seed)))
            finally:
                os._exit(3)
        _say(f"pid {pid}")
        os.waitpid(pid, 0)
        _say("reaped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
