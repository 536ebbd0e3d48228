"""Replay a recorded AT transcript (`*.at` here) through the real modem component and its real AT channel over
a real pty, and print or rewrite its golden (`*.golden.json`). Never run by the tests to make goldens.

    PYTHONPATH=. python -m tests.data.modem.replay            # rewrite every golden (make modem-goldens)
    PYTHONPATH=. python -m tests.data.modem.replay huawei     # one
    PYTHONPATH=. python -m tests.data.modem.replay --print X  # print, write nothing

Transcript format (one modem session, like gpsd's regression logs):
    # comment lines (model, firmware, sources)
    @init | @poll          a step: the component's initialise() or one poll()
    ! <bytes>              unsolicited bytes the modem sends at the start of the step (just before its
                           first answer: bytes sent before the port is opened are flushed by pyserial)
    > <command>            a command the host sends (as the component sends it)
    < <bytes>              the modem's answer to the last `>` (several `<` lines are concatenated)
<bytes> use Python escapes (\\r, \\n, \\xNN); everything else is literal. Within a step each command gets its
recorded answers in order; a command the step has no answer for gets `ERROR` and is listed as unrecorded.
Review the goldens' diff before committing them: they are what the tests hold the parser and channel to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tty
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.metrics import Metrics
from appliance.modem.config import ModemConfig
from appliance.modem.modem import Modem, ModemDead
from appliance.timebase import SystemClock
from hal.modem import ATTimeout, PortClosed

HERE = Path(__file__).resolve().parent
COMMAND_TIMEOUT = 0.3  # a reply the channel does not recognise as final costs this, not 2 s


@dataclass
class Step:
    kind: str
    unsolicited: bytes = b""
    answers: dict[str, deque[bytes]] = field(default_factory=dict)


def _bytes(text: str) -> bytes:
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def load(path: Path) -> list[Step]:
    steps: list[Step] = []
    command = ""
    for number, raw in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        line = raw.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        tag, _, rest = line.partition(" ")
        if tag in ("@init", "@poll"):
            steps.append(Step(tag[1:]))
            continue
        if not steps:
            raise ValueError(f"{path.name}:{number}: before the first @init/@poll")
        step = steps[-1]
        if tag == "!":
            step.unsolicited += _bytes(rest)
        elif tag == ">":
            command = rest.strip()
            step.answers.setdefault(command, deque()).append(b"")
        elif tag == "<":
            if not command or command not in step.answers:
                raise ValueError(f"{path.name}:{number}: an answer before any command in this step")
            step.answers[command][-1] += _bytes(rest)
        else:
            raise ValueError(f"{path.name}:{number}: unknown line {line!r}")
    return steps


class FarEnd:
    """The modem's side of a pty: answers each command line (ended by CR) from the current step."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.step = Step("none")
        self.received: list[str] = []
        self.unrecorded: list[str] = []
        self._buffer = b""
        self._unsolicited = b""
        os.set_blocking(self.master, False)
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def begin(self, step: Step) -> None:
        self.step = Step(step.kind, step.unsolicited, {k: deque(v) for k, v in step.answers.items()})
        self.received, self.unrecorded = [], []
        self._unsolicited = step.unsolicited  # sent just before the step's first answer: the port is open then

    def _readable(self) -> None:
        try:
            self._buffer += os.read(self.master, 4096)
        except BlockingIOError:
            return
        while b"\r" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\r")
            command = line.decode("ascii", "replace").strip()
            if not command:
                continue
            self.received.append(command)
            if self._unsolicited:
                os.write(self.master, self._unsolicited)
                self._unsolicited = b""
            queue = self.step.answers.get(command)
            if queue:
                os.write(self.master, queue.popleft())
            else:
                self.unrecorded.append(command)
                os.write(self.master, b"\r\nERROR\r\n")

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


def _state(modem: Modem) -> dict[str, Any]:
    snapshot = modem.snapshot()
    registrations = {
        domain: {"stat": r.stat.name.lower(), "lac": r.lac, "cell": r.cell, "act": r.act, "rac": r.rac,
                 "cause_type": r.cause_type, "reject_cause": r.reject_cause}
        for domain, r in sorted(modem.network.registrations.items())
    }
    keep = ("state", "reason", "registered", "roaming", "operator", "technology", "signal_dbm", "sim",
            "consecutive_timeouts", "garbage_lines", "urcs")
    return {k: snapshot[k] for k in keep} | {"registrations": registrations}


async def replay(path: Path) -> dict[str, Any]:
    """The golden of one transcript: per step, the commands the component sent, those the transcript had no
    answer for, how the step ended, and the component's state after it."""
    steps = load(path)
    far = FarEnd()
    config = ModemConfig(port=far.path, command_timeout=COMMAND_TIMEOUT, poll_interval=3600.0)
    modem = Modem(config, SystemClock(), Metrics())
    out: list[dict[str, Any]] = []
    try:
        for step in steps:
            far.begin(step)
            ended = "ok"
            try:
                await (modem.initialise() if step.kind == "init" else modem.poll())
            except (ModemDead, ATTimeout, PortClosed) as error:
                ended = type(error).__name__
            await asyncio.sleep(0.05)  # URCs after the last answer are taken in
            out.append({"step": step.kind, "commands": list(far.received), "unrecorded": list(far.unrecorded),
                        "ended": ended, "after": _state(modem)})
    finally:
        await modem.channel.close()
        far.close()
    return {"transcript": path.name, "steps": out}


def golden_path(path: Path) -> Path:
    return path.with_suffix(".golden.json")


def transcripts() -> list[Path]:
    return sorted(HERE.glob("*.at"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--print", action="store_true", help="print the goldens instead of writing them")
    parser.add_argument("names", nargs="*", help="transcript names (default: all)")
    args = parser.parse_args()
    paths = [HERE / f"{n}.at" for n in args.names] if args.names else transcripts()
    for path in paths:
        golden = asyncio.run(replay(path))
        text = json.dumps(golden, indent=1, sort_keys=True) + "\n"
        if args.print:
            print(text, end="")
        else:
            golden_path(path).write_text(text)
            print(f"{path.stem}: {len(golden['steps'])} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
