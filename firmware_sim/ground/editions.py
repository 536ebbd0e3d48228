"""The ground's content desk: one newspaper edition a day, made by the real packer (`python -m appliance content
pack SRC DEST --publish`) from the sample sources of firmware_sim/content_samples.py, signed (TUF,
firmware_sim/ground/tuf.py) and only then made current in the plain index that /content/ serves. With a world,
the scenario's schedule is signed with each edition (target "schedule.json").

Control (the simulator's control listener): POST /ground/content/publish {"day": "YYYY-MM-DD"}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from firmware_sim.content_samples import generate
from firmware_sim.device import World
from firmware_sim.ground.tuf import TufServer
from firmware_sim.ground.wire import error, read_json

log = logging.getLogger("firmware_sim.ground")

REPO = Path(__file__).resolve().parents[2]  # the packer runs from this checkout
SCHEDULE_FILE = "schedule.json"  # in the bundles directory, next to index.json; signed as "schedule.json"


class EditionDesk:
    def __init__(self, bundles_dir: Path, tuf: TufServer, world: World | None, now: Callable[[], datetime]) -> None:
        self.bundles_dir = bundles_dir
        self.tuf = tuf
        self.world = world
        self.now = now  # the station's clock: what it signs with
        self.editions: list[str] = []
        self.pack_errors: list[str] = []
        self._publishing: set[asyncio.Task[Any]] = set()
        self._publish_lock = asyncio.Lock()

    async def publish(self, day: date | None = None) -> dict[str, Any]:
        """Pack the sample content of `day` (default: today, then one day later per edition already
        published, so each new edition is visibly new) with the real packer; make it the current bundle."""
        async with self._publish_lock:
            day = day or datetime.now(UTC).date() + timedelta(days=len(self.editions))
            bundle_id = f"content-{day.isoformat()}"
            # The airline's order: pack beside the served tree, sign, and only then make the edition current in
            # the plain index, so an aircraft never reads an index whose targets are not signed yet.
            stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=self.bundles_dir.parent))
            index = self.bundles_dir / "index.json"
            if index.exists():
                shutil.copy2(index, stage / "index.json")
            with tempfile.TemporaryDirectory(prefix="ground-source-") as source:
                src = await asyncio.to_thread(generate, Path(source) / "src", day)
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "appliance", "content", "pack", str(src), str(stage / bundle_id),
                    "--bundle-id", bundle_id, "--publish",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                )
                out, err = await process.communicate()
            if process.returncode != 0:
                shutil.rmtree(stage, ignore_errors=True)
                problem = f"pack {bundle_id}: exit {process.returncode}: {err.decode(errors='replace').strip()[-300:]}"
                self.pack_errors.append(problem)
                log.warning("%s", problem)
                return {"error": problem}
            try:
                shutil.rmtree(self.bundles_dir / bundle_id, ignore_errors=True)  # the same day packed again
                os.replace(stage / bundle_id, self.bundles_dir / bundle_id)  # served, but not current yet
                older = [f"content/content-{d}" for d in self.editions if f"content-{d}" != bundle_id]
                await self.tuf.publish([self.bundles_dir / bundle_id, stage / "index.json"], "content",
                                       now=self.now(), retire=older)
                os.replace(stage / "index.json", index)  # signed: now the edition is current
                if self.world is not None:  # the schedule, signed with the edition (target "schedule.json")
                    schedule = self.bundles_dir / SCHEDULE_FILE
                    await asyncio.to_thread(schedule.write_text, json.dumps({"legs": self.world.schedule()},
                                                                            sort_keys=True))
                    await self.tuf.publish([schedule], now=self.now())
            except (OSError, RuntimeError) as problem:
                self.pack_errors.append(f"sign {bundle_id}: {problem}")
                return {"error": f"sign {bundle_id}: {problem}"}
            finally:
                shutil.rmtree(stage, ignore_errors=True)
            self.editions.append(day.isoformat())
            result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
            return result

    def spawn_publish(self) -> None:
        """The next edition, in the background (the station's start, an aircraft's descent)."""
        task = asyncio.get_running_loop().create_task(self.publish())
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def stop(self) -> None:
        """Cancel the editions being made and wait for them."""
        for task in list(self._publishing):
            task.cancel()
        await asyncio.gather(*self._publishing, return_exceptions=True)

    async def post_publish(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        raw = body.get("day") if isinstance(body, dict) else None
        try:
            day = date.fromisoformat(raw) if raw is not None else None
        except (TypeError, ValueError):
            return error(400, 'expected {"day": "YYYY-MM-DD"} (or no day: the next edition)')
        result = await self.publish(day)
        return web.json_response(result, status=502 if "error" in result else 201)


def add_edition_control(app: web.Application, desk: EditionDesk) -> None:
    app.router.add_post("/ground/content/publish", desk.post_publish)
