"""`python -m tests.bench.ops_state CONFIG FILES RECORDS`: build the state the start-to-READY figure needs with
the storage and content components' own code: a content bundle of FILES files installed in the store, and
RECORDS outbox records in the journal; then exit without stopping anything (an unsafe shutdown).
Prints one JSON line: what was built (or why not)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from appliance.appconfig import load_config
from appliance.timebase import SystemClock


def build_content(content_dir: Path, files: int) -> dict[str, Any]:
    from appliance.content.pack import pack
    from appliance.content.store import ContentStore

    started = time.monotonic()
    src = content_dir.parent / "bench-content-src"
    for i in range(files):
        path = src / f"d{i // 500:03d}" / f"item-{i:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content item {i}\n")
    store = ContentStore(content_dir)
    store.ensure_layout()
    files_dir = content_dir / "bench-pack"
    manifest = pack(src, files_dir, bundle_id="bench")
    store.install(files_dir, manifest)
    return {"content_files": files, "content_seconds": round(time.monotonic() - started, 1)}


async def build_journal(config: Any, records: int) -> dict[str, Any]:
    from appliance.storage.component import StorageComponent

    started = time.monotonic()
    storage = StorageComponent(config.storage, SystemClock())
    await storage.start()
    batch = 2000
    for first in range(0, records, batch):
        count = min(batch, records - first)
        await asyncio.gather(*(storage.outbox.append("booking", {"item": f"i{first + n}", "seat": "12A"})
                               for n in range(count)))  # fmt: skip
    return {"journal_records": records, "journal_seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    config_path, files, records = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    config = load_config(config_path)
    report: dict[str, Any] = {}
    try:
        report |= build_content(Path(config.content.dir), files)
    except (ImportError, AttributeError, TypeError) as error:
        report["content_error"] = f"{type(error).__name__}: {error}"
    try:
        report |= asyncio.run(build_journal(config, records))
    except (ImportError, AttributeError, TypeError) as error:
        report["journal_error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(report), flush=True)
    os._exit(0)  # nothing stopped, no clean-shutdown marker: the next start recovers


if __name__ == "__main__":
    main()
