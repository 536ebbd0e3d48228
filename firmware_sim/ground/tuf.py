"""The ground station's signed side: the TUF repository the airline publishes (`appliance trust init` /
`publish`, the real ground tools), served as static files at `/tuf/`, with a
knob for each attack of the TUF specification. Control: `PUT /ground/tuf {"attack": NAME | null, "rate": B/s}`
and `GET /ground/tuf`.

Attacks (what a hostile network, DNS hijack or compromised CDN could serve):
  tampered_target     one byte of every target file flipped
  tampered_metadata   timestamp.json's expiry moved ten years on, its signatures kept
  wrong_key           a newer timestamp signed by a key the root does not name
  rollback            the oldest timestamp.json this station ever served (and with it the older bundle)
  freeze              timestamp.json as it was when the knob was set, from then on (expires in time)
  mix_and_match       N.snapshot.json / N.targets.json answered with version N-1's genuine file
  endless_data        every file followed by an endless stream of bytes
  slow_retrieval      every file trickled at `rate` bytes/s (default 64)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[2]  # the ground tools run from this checkout

ATTACKS = ("tampered_target", "tampered_metadata", "wrong_key", "rollback", "freeze", "mix_and_match",
           "endless_data", "slow_retrieval")
VERSIONED = re.compile(r"^metadata/(\d+)\.(snapshot|targets)\.json$")
ENDLESS_LIMIT = 64 * 1024 * 1024  # a bound for the simulator itself; any honest client stops long before


class TufServer:
    def __init__(self, work_dir: Path) -> None:
        self.keys = work_dir / "keys"
        self.repo = work_dir / "repo"
        self.attack: str | None = None
        self.rate = 64.0
        self.requests = 0
        self.attacked = 0
        self._timestamps: dict[int, bytes] = {}  # every timestamp version served, for the rollback knob
        self._frozen: bytes | None = None

    # --- publishing (the airline's pipeline) --------------------------------------------------------------

    async def _tool(self, *argv: str, now: datetime | None) -> None:
        """`python -m appliance trust ...` as the airline's pipeline runs it (the real ground tools, from this
        checkout). Raises RuntimeError with the tool's message when it fails."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
        when = ["--now", now.isoformat()] if now is not None else []
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "appliance", "trust", argv[0], "--keys", str(self.keys), "--repo", str(self.repo),
            *when, *argv[1:], stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
        _, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"trust {argv[0]}: exit {process.returncode}: {err.decode(errors='replace')[-300:]}")

    async def ensure_repo(self, now: datetime | None = None) -> None:
        """A throwaway fleet repository (`appliance trust init`: keys and version 1 of every role) if there is
        none yet, so the root the aircraft pins exists before the first edition. Raises RuntimeError."""
        if (self.repo / "metadata" / "1.root.json").exists():
            return
        await self._tool("init", now=now)
        self._remember_timestamp()

    async def publish(self, paths: list[Path], prefix: str = "", now: datetime | None = None,
                      retire: list[str] | None = None) -> None:
        """Sign `paths` as targets (`appliance trust publish`), initialising the repository on first use;
        `now` is the station's clock (the expiries are counted from it); `retire` drops target directories
        (older editions) in the same version. Raises RuntimeError."""
        await self.ensure_repo(now)
        retiring = [arg for name in retire or [] for arg in ("--retire", name)]
        await self._tool("publish", "--prefix", prefix, *retiring, *map(str, paths), now=now)
        self._remember_timestamp()

    def pinned_root(self) -> Path:
        """What the aircraft's image ships as `[trust] root`."""
        return self.repo / "metadata" / "1.root.json"

    def _remember_timestamp(self) -> None:
        try:
            data = (self.repo / "metadata" / "timestamp.json").read_bytes()
            self._timestamps[int(json.loads(data)["signed"]["version"])] = data
        except (OSError, ValueError, KeyError):
            pass

    # --- the knobs -----------------------------------------------------------------------------------------

    def configure(self, body: Any) -> None:
        """Raises ValueError with a message for the control client."""
        if not isinstance(body, dict) or set(body) - {"attack", "rate"}:
            raise ValueError('expected {"attack": NAME or null, "rate": bytes per second}')
        attack = body.get("attack", self.attack)
        if attack is not None and attack not in ATTACKS:
            raise ValueError(f"attack must be null or one of {', '.join(ATTACKS)}")
        rate = body.get("rate", self.rate)
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 1 <= rate <= 1e9:
            raise ValueError("rate must be a number of bytes per second (1..1e9)")
        self.attack, self.rate = attack, float(rate)
        self._frozen = None
        if attack == "freeze":
            self._frozen = (self.repo / "metadata" / "timestamp.json").read_bytes()

    def state(self) -> dict[str, Any]:
        return {"attack": self.attack, "rate": self.rate, "requests": self.requests, "attacked": self.attacked,
                "timestamps_served": sorted(self._timestamps)}

    # --- serving -------------------------------------------------------------------------------------------

    def _resolve(self, tail: str) -> Path | None:
        parts = tail.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        path = (self.repo / tail).resolve()
        return path if self.repo.resolve() in path.parents and path.is_file() else None

    def _body(self, tail: str, body: bytes) -> bytes:
        attack = self.attack
        if tail == "metadata/timestamp.json":
            self._remember_timestamp()
            if attack == "rollback" and self._timestamps:
                return self._timestamps[min(self._timestamps)]
            if attack == "freeze" and self._frozen is not None:
                return self._frozen
            if attack == "tampered_metadata":
                raw = json.loads(body)
                raw["signed"]["expires"] = "2036-01-01T00:00:00Z"
                return json.dumps(raw, separators=(",", ":"), sort_keys=True).encode()
            if attack == "wrong_key":
                from securesystemslib.signer import CryptoSigner
                from tuf.api.metadata import Metadata, Timestamp

                md = Metadata[Timestamp].from_bytes(body)
                md.signed.version += 1
                md.sign(CryptoSigner.generate_ed25519())
                return md.to_bytes()
        match = VERSIONED.match(tail)
        if attack == "mix_and_match" and match is not None and int(match.group(1)) > 1:
            older = self.repo / "metadata" / f"{int(match.group(1)) - 1}.{match.group(2)}.json"
            if older.is_file():
                return older.read_bytes()
        if attack == "tampered_target" and tail.startswith("targets/") and body:
            flipped = bytearray(body)
            flipped[len(flipped) // 2] ^= 0x5A
            return bytes(flipped)
        return body

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        tail = request.match_info["tail"]
        path = self._resolve(tail)
        if path is None:
            return web.json_response({"error": "no such file"}, status=404)
        original = path.read_bytes()
        body = self._body(tail, original)
        if body is not original:
            self.attacked += 1
        if self.attack not in ("endless_data", "slow_retrieval"):
            return web.Response(body=body, content_type="application/octet-stream")
        self.attacked += 1
        response = web.StreamResponse()
        response.content_type = "application/octet-stream"
        await response.prepare(request)
        try:
            if self.attack == "endless_data":
                await response.write(body)
                sent = 0
                while sent < ENDLESS_LIMIT:
                    await response.write(b"\0" * 65536)
                    sent += 65536
            else:
                step = max(1, int(self.rate / 10))
                for i in range(0, len(body), step):
                    await response.write(body[i:i + step])
                    await asyncio.sleep(step / self.rate)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            if request.transport is not None:
                request.transport.abort()
        return response


def add_tuf_routes(app: web.Application, server: TufServer, prefix: str = "/tuf") -> None:
    app.router.add_get(prefix + "/{tail:.+}", server.handle)
