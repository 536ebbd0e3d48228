"""A 3G modem emulated at its AT port: a pty answering the AT commands of reference/modem-at.md.

Network conditions follow the world (no coverage in the air, home registration on the ground) unless the
control API overrides them (`PUT /modem`). Faults on demand: a hang (answers nothing until power-cycled),
a missing SIM, a PIN-locked SIM, registration denied, bursts of URCs (also in the middle of answers), garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from typing import Any

from aiohttp import web

from firmware_sim.device import World

HOME_OPERATOR = "21407"  # the airline's home network (MCC 214 Spain)
ROAMING_OPERATOR = "26202"  # abroad (MCC 262 Germany)
COVERAGES = ("none", "home", "roaming", "auto")
SIM_STATES = ("ready", "missing", "pin")


class SimModem:
    name = "modem"

    def __init__(self, world: World | None = None, seed: int | None = None) -> None:
        self.world = world
        self._random = random.Random(seed)
        self.coverage_override: str | None = None
        self.rssi = 20
        self.sim = "ready"
        self.hang = False
        self.denied = False
        self.powered = True
        self.act = 2  # UTRAN (3G)
        self.operator_home = HOME_OPERATOR
        self.operator_roaming = ROAMING_OPERATOR
        self.urc_in_answer = 0  # URCs still to slip into the middle of the next answers
        self.commands_seen = 0
        self.power_cycles = 0
        self.resets = 0
        self._master = -1
        self._slave = -1
        self.slave_path = ""
        self._buffer = bytearray()
        self._reset_session()
        self._last_stat: int | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._booting_until = 0.0

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.slave_path = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        asyncio.get_running_loop().add_reader(self._master, self._readable)
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            os.close(self._slave)
            self._master = self._slave = -1

    def endpoints(self) -> dict[str, Any]:
        return {"modem.port": self.slave_path}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put("/modem", self._put_modem)
        app.router.add_post("/modem/power", self._post_power)

    # --- network model -----------------------------------------------------------------------------

    @property
    def coverage(self) -> str:
        if self.coverage_override is not None:
            return self.coverage_override
        if self.world is None:
            return "home"
        return "home" if self.world.on_ground else "none"

    def stat(self) -> int:
        """Registration <stat> as the modem would report it now."""
        if not self.powered or self.sim != "ready" or asyncio.get_running_loop().time() < self._booting_until:
            return 0
        if self.denied:
            return 3
        return {"none": 2, "home": 1, "roaming": 5}[self.coverage]

    def operator(self) -> str | None:
        stat = self.stat()
        if stat == 1:
            return self.operator_home
        if stat == 5:
            return self.operator_roaming
        return None

    def state(self) -> dict[str, Any]:
        return {
            "port": self.slave_path,
            "powered": self.powered,
            "coverage": self.coverage,
            "coverage_override": self.coverage_override,
            "rssi": self.rssi,
            "sim": self.sim,
            "hang": self.hang,
            "denied": self.denied,
            "stat": self.stat(),
            "operator": self.operator(),
            "commands_seen": self.commands_seen,
            "power_cycles": self.power_cycles,
            "resets": self.resets,
        }

    def set_power(self, on: bool) -> None:
        """The modem's power line (driven by the appliance's power discrete)."""
        if on and not self.powered:
            self.powered = True
            self.power_cycles += 1
            self._boot()
        elif not on:
            self.powered = False

    def _boot(self) -> None:
        self.hang = False
        self._reset_session()
        self._booting_until = asyncio.get_running_loop().time() + 0.3
        self._last_stat = None

    def _reset_session(self) -> None:
        self.echo = True
        self.cmee = 0
        self.reg_urc = {"+CREG": 0, "+CGREG": 0, "+CEREG": 0}
        self.cops_format = 0

    # --- the wire ----------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self._master < 0:
            return
        data = text.encode("ascii")
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)

    def _line(self, text: str) -> None:
        self._write(f"\r\n{text}\r\n")

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return
        if not self.powered:
            return
        self._buffer += data
        while b"\r" in self._buffer:
            raw, _, rest = bytes(self._buffer).partition(b"\r")
            self._buffer = bytearray(rest.lstrip(b"\n"))
            command = raw.decode("ascii", "replace").strip()
            if command:
                self._command(command)

    def _command(self, command: str) -> None:
        self.commands_seen += 1
        if self.hang:
            return
        if self.echo:
            self._write(command + "\r")
        upper = command.upper()
        if not upper.startswith("AT"):
            self._final_error(None)
            return
        body = command[2:]
        for part in body.split(";"):
            if not self._one(part.strip()):
                return
        self._line("OK")

    def _final_error(self, cme: int | None) -> None:
        if cme is not None and self.cmee == 1:
            self._line(f"+CME ERROR: {cme}")
        else:
            self._line("ERROR")

    def _answer(self, *lines: str) -> None:
        for index, line in enumerate(lines):
            self._line(line)
            if self.urc_in_answer > 0 and index == 0:
                self.urc_in_answer -= 1
                self._emit_registration_urcs(force=True)

    def _sim_check(self) -> bool:
        if self.sim == "missing":
            self._final_error(10)
            return False
        if self.sim == "pin":
            self._final_error(11)
            return False
        return True

    def _one(self, part: str) -> bool:
        upper = part.upper()
        if upper in ("", "Z"):
            return True
        if upper in ("E0", "E1"):
            self.echo = upper == "E1"
            return True
        if upper.startswith("+CMEE="):
            self.cmee = 1 if upper.endswith("1") else 0
            return True
        if upper in ("I", "+CGMI", "+CGMM", "+CGSN"):
            self._answer({"I": "SIMCOM SIM5360E", "+CGMI": "SIMCOM", "+CGMM": "SIM5360E"}.get(upper, "35" + "0" * 13))
            return True
        if upper == "+CPIN?":
            if self.sim == "missing":
                self._final_error(10)
                return False
            self._answer("+CPIN: READY" if self.sim == "ready" else "+CPIN: SIM PIN")
            return True
        for prefix in self.reg_urc:
            if upper == f"{prefix}?":
                self._answer(f"{prefix}: {self.reg_urc[prefix]},{self._registration_fields(self.reg_urc[prefix])}")
                return True
            if upper.startswith(f"{prefix}="):
                value = upper.split("=", 1)[1]
                if value not in ("0", "1", "2"):
                    self._final_error(4)
                    return False
                self.reg_urc[prefix] = int(value)
                return True
        if upper == "+CSQ":
            rssi = self.rssi if self.coverage != "none" and self.stat() != 0 else 99
            self._answer(f"+CSQ: {rssi},99")
            return True
        if upper.startswith("+COPS="):
            fields = upper.split("=", 1)[1].split(",")
            if len(fields) == 2 and fields[0] == "3":
                self.cops_format = int(fields[1])
                return True
            self._final_error(4)
            return False
        if upper == "+COPS?":
            if not self._sim_check():
                return False
            operator = self.operator()
            self._answer(f'+COPS: 0,{self.cops_format},"{operator}",{self.act}' if operator else "+COPS: 0")
            return True
        if upper == "+CFUN=1,1":
            self.resets += 1
            self._line("OK")
            self._boot()
            return False  # the OK was sent before the reset
        if upper == "+CFUN?":
            self._answer("+CFUN: 1")
            return True
        self._final_error(4)
        return False

    def _registration_fields(self, n: int) -> str:
        stat = self.stat()
        if n == 2 and stat in (1, 5):
            return f'{stat},"2F1A","01B3C40F",{self.act}'
        return str(stat)

    def _emit_registration_urcs(self, force: bool = False) -> None:
        stat = self.stat()
        if not force and stat == self._last_stat:
            return
        self._last_stat = stat
        if not self.powered or self.hang:
            return
        for prefix, n in self.reg_urc.items():
            if n in (1, 2):
                fields = self._registration_fields(n)
                self._line(f"{prefix}: {fields}")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.1)
            self._emit_registration_urcs()

    # --- control API -------------------------------------------------------------------------------

    async def _put_modem(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "expected a JSON object"}, status=400)
        error = self.apply(body)
        if error:
            return web.json_response({"error": error}, status=400)
        return web.json_response(self.state())

    def apply(self, body: dict[str, Any]) -> str | None:
        """Apply a control request; returns an error message or None."""
        unknown = set(body) - {"coverage", "rssi", "sim", "hang", "denied", "urc_burst", "urc_in_answer", "garbage"}
        if unknown:
            return f"unknown field(s): {', '.join(sorted(unknown))}"
        if "coverage" in body:
            if body["coverage"] not in COVERAGES:
                return f"coverage must be one of {', '.join(COVERAGES)}"
            self.coverage_override = None if body["coverage"] == "auto" else body["coverage"]
        if "rssi" in body:
            rssi = body["rssi"]
            if not isinstance(rssi, int) or isinstance(rssi, bool) or not (0 <= rssi <= 31 or rssi == 99):
                return "rssi must be 0..31 (or 99)"
            self.rssi = rssi
        if "sim" in body:
            if body["sim"] not in SIM_STATES:
                return f"sim must be one of {', '.join(SIM_STATES)}"
            self.sim = body["sim"]
        for flag in ("hang", "denied"):
            if flag in body:
                if not isinstance(body[flag], bool):
                    return f"{flag} must be true or false"
                setattr(self, flag, body[flag])
        for count in ("urc_burst", "urc_in_answer", "garbage"):
            if count in body and (not isinstance(body[count], int) or not 0 <= body[count] <= 1000):
                return f"{count} must be a count 0..1000"
        self.urc_in_answer += int(body.get("urc_in_answer", 0))
        for _ in range(int(body.get("urc_burst", 0))):
            self._emit_registration_urcs(force=True)
        for _ in range(int(body.get("garbage", 0))):
            noise = bytes(self._random.randrange(256) for _ in range(self._random.randrange(1, 40)))
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._master, noise + b"\r\n")
        return None

    async def _post_power(self, request: web.Request) -> web.Response:
        """Drive the modem's power line by hand: {"on": false} / {"on": true}."""
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("on"), bool):
            return web.json_response({"error": 'expected {"on": true|false}'}, status=400)
        self.set_power(body["on"])
        return web.json_response(self.state())
