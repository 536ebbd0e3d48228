"""An AT command channel over pyserial (3GPP TS 27.007).

One command at a time, each with a timeout. Lines are split on CR/LF; a final result code (`OK`, `ERROR`,
`+CME ERROR: <n>`, `NO CARRIER`...) ends a command's answer. Unsolicited result codes (URCs) are separated from
answers even when they arrive in the middle of one (see `classify`), and handed to a callback.

Bytes are read by a thread (pyserial is blocking) and every line crosses into the event loop with
`call_soon_threadsafe`; writes happen on the loop thread and are tiny.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

log = logging.getLogger("hal.modem.at")

FINAL_OK = "OK"
# COMMAND NOT SUPPORT: Huawei's (and some Telit firmware's) final result code for an unknown command, as
# ModemManager's serial parser also takes it (src/mm-serial-parsers.c); TOO MANY PARAMETERS likewise (Huawei).
FINAL_ERRORS = ("ERROR", "NO CARRIER", "NO DIALTONE", "BUSY", "NO ANSWER", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS")
_CME = re.compile(r"\+CM[ES] ERROR: *(\d+|.+)")

# Prefixes that are unsolicited when no command asked for them.
URC_PREFIXES = (
    "+CREG:", "+CGREG:", "+CEREG:", "RING", "+CMTI:", "+CUSD:", "+CIEV:", "+CRING:", "^", "+PBREADY",
    "+QIND:", "+QUSIM:", "RDY", "SMS DONE",  # Quectel, SIMCom
    "+CTZV:", "+CTZE:", "*PSUTTZ:", "DST:", "SMS Ready", "Call Ready", "PB DONE",  # SIMCom
    "#QSS:",  # Telit SIM status
    "+UUPSDA:", "+UUPSDD:", "+UUSORD:",  # u-blox
    "+CGEV:",
)

# CME error numbers the appliance cares about (27.007 9.2.1).
CME_ERRORS = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    30: "no network service",
    31: "network timeout",
    100: "unknown",
}


class ATError(Exception):
    """The modem answered ERROR or +CME ERROR."""

    def __init__(self, command: str, final: str, cme: int | None) -> None:
        text = CME_ERRORS.get(cme, final) if cme is not None else final
        super().__init__(f"{command}: {text}")
        self.command = command
        self.final = final
        self.cme = cme


class ATTimeout(Exception):
    """No final result code within the command's timeout."""


class PortClosed(Exception):
    """The AT port is not open (or was lost)."""


@dataclass
class ATResponse:
    command: str
    lines: list[str] = field(default_factory=list)
    final: str = ""

    def first(self, prefix: str) -> str | None:
        """The payload of the first answer line starting with `prefix` (e.g. "+CSQ:"), stripped."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        return None


def expected_prefix(command: str) -> str | None:
    """The answer-line prefix a command asks for: "AT+CSQ" -> "+CSQ:", "AT+CREG?" -> "+CREG:"."""
    match = re.match(r"^AT([+^][A-Z0-9]+)", command.upper())
    return f"{match.group(1)}:" if match else None


_REG_PREFIXES = ("+CREG:", "+CGREG:", "+CEREG:")


def is_registration_answer(payload: str) -> bool:
    """`+CxREG: <n>,<stat>[,...]` (an answer) against `+CxREG: <stat>[,"lac",...]` (a URC).

    An answer's first two fields are plain integers (leading zeros and spaces allowed: `+CREG:002,001`); a URC
    has one field, or a LAC second (quoted, or hex with a letter). A URC with an unquoted all-digit LAC looks
    like an answer: the channel then keeps the first such line as the answer and treats later ones as URCs.
    """
    fields = [f.strip() for f in payload.split(",")]
    return len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit()


def classify(line: str, pending: str | None) -> str:
    """"answer", "final", "urc" or "stray" (a result code nobody waits for) for a line, given the command
    waiting for an answer (None: idle)."""
    if line == FINAL_OK or line in FINAL_ERRORS or _CME.fullmatch(line):
        return "final" if pending is not None else "stray"
    if pending is None:
        return "urc"
    expected = expected_prefix(pending)
    for prefix in _REG_PREFIXES:
        if line.startswith(prefix):
            if expected == prefix and is_registration_answer(line[len(prefix) :]):
                return "answer"
            return "urc"
    if expected is not None and line.startswith(expected):
        return "answer"
    if line.startswith(URC_PREFIXES):
        return "urc"
    return "answer"


class ATChannel:
    """An AT port. `open()` starts the reader thread; `command()` sends one command and awaits its answer."""

    def __init__(
        self,
        url: str,
        baudrate: int = 115200,
        on_urc: Callable[[str], None] | None = None,
        serial_factory: Callable[..., serial.SerialBase] = serial.serial_for_url,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.on_urc = on_urc
        self._serial_factory = serial_factory
        self._port: serial.SerialBase | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._pending: str | None = None
        self._response: ATResponse | None = None
        self._done: asyncio.Future[ATResponse] | None = None
        self._buffer = bytearray()
        self.garbage_lines = 0
        self.urcs = 0
        self.lost: str | None = None  # why the port was lost, if it was

    @property
    def is_open(self) -> bool:
        return self._port is not None and self.lost is None

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.lost = None
        self._port = await self._loop.run_in_executor(None, self._open_port)
        self._buffer.clear()
        self._thread = threading.Thread(target=self._read_loop, args=(self._port,), daemon=True, name="at-reader")
        self._thread.start()

    def _open_port(self) -> serial.SerialBase:
        return self._serial_factory(self.url, baudrate=self.baudrate, timeout=0.1, write_timeout=1.0)

    async def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            cancel_read = getattr(port, "cancel_read", None)
            if cancel_read is not None:
                with contextlib.suppress(Exception):
                    cancel_read()
            with contextlib.suppress(Exception):
                port.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 2.0)
        self._fail_pending(PortClosed("port closed"))

    async def command(self, command: str, timeout: float = 2.0) -> ATResponse:  # noqa: ASYNC109
        """Send `command` (without CR) and return its answer. Raises ATError, ATTimeout or PortClosed."""
        async with self._lock:
            port = self._port
            if port is None or self.lost is not None:
                raise PortClosed(self.lost or "port not open")
            loop = asyncio.get_running_loop()
            self._pending = command
            self._response = ATResponse(command)
            self._done = loop.create_future()
            try:
                port.write(command.encode("ascii") + b"\r")
            except (serial.SerialException, OSError) as error:
                self._pending = None
                self._mark_lost(f"write failed: {error}")
                raise PortClosed(str(error)) from error
            try:
                async with asyncio.timeout(timeout):
                    response = await self._done
            except TimeoutError:
                raise ATTimeout(f"{command}: no answer within {timeout:g} s") from None
            finally:
                self._pending = None
                self._done = None
        if response.final != FINAL_OK:
            match = _CME.fullmatch(response.final)
            cme = int(match.group(1)) if match and match.group(1).isdigit() else None
            raise ATError(command, response.final, cme)
        return response

    # --- reader thread -------------------------------------------------------------------------------

    def _read_loop(self, port: serial.SerialBase) -> None:
        loop = self._loop
        assert loop is not None
        while self._port is port:
            try:
                data = port.read(max(1, int(getattr(port, "in_waiting", 0))))
            except (serial.SerialException, OSError, TypeError, AttributeError) as error:
                if self._port is port:
                    loop.call_soon_threadsafe(self._mark_lost, f"read failed: {error}")
                return
            if data:
                loop.call_soon_threadsafe(self._feed, data)

    # --- loop thread ---------------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            cut = min((i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0), default=-1)
            if cut < 0:
                if len(self._buffer) > 4096:  # no line end in 4 KB: noise
                    self.garbage_lines += 1
                    self._buffer.clear()
                return
            raw = bytes(self._buffer[:cut])
            del self._buffer[: cut + 1]
            if raw:
                self._line(raw)

    def _line(self, raw: bytes) -> None:
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            self.garbage_lines += 1
            return
        if not line:
            return
        if not line.isprintable():
            self.garbage_lines += 1
            return
        if self._pending is not None and line.upper() == self._pending.upper():
            return  # an echo (before ATE0 took effect)
        kind = classify(line, self._pending)
        if kind == "stray":
            self.garbage_lines += 1
            return
        if kind == "urc":
            self.urcs += 1
            if self.on_urc is not None:
                self.on_urc(line)
            return
        response, done = self._response, self._done
        if response is None or done is None or done.done():
            self.garbage_lines += 1
            return
        if kind == "final":
            response.final = line
            self._pending = None  # what follows in the same read is no longer this command's answer
            done.set_result(response)
            return
        expected = expected_prefix(response.command)
        if line.startswith(_REG_PREFIXES) and expected is not None and line.startswith(expected) and any(
            earlier.startswith(expected) for earlier in response.lines
        ):  # the answer is already there: a second registration line is a URC that looked like one
            self.urcs += 1
            if self.on_urc is not None:
                self.on_urc(line)
            return
        response.lines.append(line)

    def _mark_lost(self, reason: str) -> None:
        if self.lost is None:
            log.warning("AT port %s lost: %s", self.url, reason)
            self.lost = reason
        self._fail_pending(PortClosed(reason))

    def _fail_pending(self, error: Exception) -> None:
        done = self._done
        if done is not None and not done.done():
            done.set_exception(error)
