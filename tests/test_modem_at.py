"""The AT channel against scripted transcripts on a real pty: answers, URCs inside answers, errors, timeouts."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator, Callable

import pytest

from hal.modem import ATChannel, ATError, ATTimeout, PortClosed, classify
from hal.modem.parse import RegStat, csq_to_dbm, parse_cops, parse_registration


class ScriptedModem:
    """The far end of a pty: answers each command line with scripted bytes."""

    def __init__(self, script: Callable[[str], bytes | None]) -> None:
        self.script = script
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.received: list[str] = []
        self._buffer = b""
        os.set_blocking(self.master, False)
        asyncio.get_running_loop().add_reader(self.master, self._readable)

    def _readable(self) -> None:
        self._buffer += os.read(self.master, 1024)
        while b"\r" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\r")
            command = line.decode().strip()
            self.received.append(command)
            answer = self.script(command)
            if answer is not None:
                os.write(self.master, answer)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


TRANSCRIPT = {
    "ATE0": b"ATE0\r\r\nOK\r\n",  # still echoing this once
    "AT+CMEE=1": b"\r\nOK\r\n",
    "AT+CPIN?": b"\r\n+CPIN: READY\r\n\r\nOK\r\n",
    "AT+CEREG?": b'\r\n+CEREG: 2,5,"2F1A","01B3C40F",7\r\n\r\n+CEREG: 2\r\n\r\nOK\r\n',  # a URC mid-answer
    "AT+CREG?": b'\r\n+CREG: 1,"2F1B","01B3C411",7\r\n+CREG: 2,1\r\n\r\nOK\r\n',  # URC first, then the answer
    "AT+CSQ": b"\r\n+CSQ: 17,99\r\n\r\nOK\r\n",
    "AT+COPS=3,2;+COPS?": b'\r\n+COPS: 0,2,"26202",7\r\n\r\nOK\r\n',
    "AT+CGREG?": b"\r\n+CME ERROR: 10\r\n",
    "AT+XYZ": b"\r\nERROR\r\n",
}


@pytest.fixture
async def transcript() -> AsyncIterator[tuple[ScriptedModem, ATChannel, list[str]]]:
    modem = ScriptedModem(TRANSCRIPT.get)
    urcs: list[str] = []
    channel = ATChannel(modem.path, on_urc=urcs.append)
    await channel.open()
    yield modem, channel, urcs
    await channel.close()
    modem.close()


async def test_answers_and_urcs_are_separated(transcript: tuple[ScriptedModem, ATChannel, list[str]]) -> None:
    _, channel, urcs = transcript
    assert (await channel.command("ATE0")).final == "OK"
    assert (await channel.command("AT+CPIN?")).lines == ["+CPIN: READY"]
    eps = await channel.command("AT+CEREG?")
    assert eps.lines == ['+CEREG: 2,5,"2F1A","01B3C40F",7']
    cs = await channel.command("AT+CREG?")
    assert cs.lines == ["+CREG: 2,1"]
    assert urcs == ["+CEREG: 2", '+CREG: 1,"2F1B","01B3C411",7']
    assert (await channel.command("AT+CSQ")).first("+CSQ:") == "17,99"
    cops = await channel.command("AT+COPS=3,2;+COPS?")
    assert parse_cops(cops.first("+COPS:") or "").mcc_mnc == "26202"


async def test_cme_error_and_plain_error(transcript: tuple[ScriptedModem, ATChannel, list[str]]) -> None:
    _, channel, _ = transcript
    with pytest.raises(ATError) as cme:
        await channel.command("AT+CGREG?")
    assert cme.value.cme == 10 and "SIM not inserted" in str(cme.value)
    with pytest.raises(ATError) as plain:
        await channel.command("AT+XYZ")
    assert plain.value.cme is None and plain.value.final == "ERROR"


async def test_timeout_then_the_channel_still_works(transcript: tuple[ScriptedModem, ATChannel, list[str]]) -> None:
    _, channel, _ = transcript
    with pytest.raises(ATTimeout):
        await channel.command("AT+SILENT", timeout=0.2)
    assert (await channel.command("AT+CSQ")).lines == ["+CSQ: 17,99"]


async def test_urcs_while_idle_and_garbage_are_counted(
    transcript: tuple[ScriptedModem, ATChannel, list[str]],
) -> None:
    modem, channel, urcs = transcript
    modem.send(b"\r\n+CEREG: 1\r\n\xff\xfe\x00garbage\r\nOK\r\n")
    for _ in range(50):
        await asyncio.sleep(0.02)
        if channel.garbage_lines and urcs:
            break
    assert urcs == ["+CEREG: 1"]
    assert channel.garbage_lines == 2  # the noise, and a stray OK with no command waiting
    assert channel.urcs == 1


async def test_lost_port_fails_the_pending_command() -> None:
    modem = ScriptedModem(lambda command: None)
    channel = ATChannel(modem.path)
    await channel.open()
    pending = asyncio.create_task(channel.command("AT+CSQ", timeout=5))
    await asyncio.sleep(0.1)
    modem.close()  # the device goes away: reads fail with EIO
    with pytest.raises((PortClosed, ATTimeout)):
        await pending
    await channel.close()


@pytest.mark.parametrize(
    ("line", "pending", "kind"),
    [
        ("OK", "AT", "final"),
        ("OK", None, "stray"),
        ("+CME ERROR: 13", "AT+CPIN?", "final"),
        ("+CREG: 2,5", "AT+CREG?", "answer"),
        ("+CREG: 5", "AT+CREG?", "urc"),
        ('+CREG: 1,"2F1B","01B3C411",7', "AT+CREG?", "urc"),
        ("+CGREG: 0,1", "AT+CREG?", "urc"),
        ("+CSQ: 31,99", "AT+CSQ", "answer"),
        ("+CEREG: 2", None, "urc"),
        ("SIMCOM SIM5360E", "ATI", "answer"),
    ],
)
def test_classify(line: str, pending: str | None, kind: str) -> None:
    assert classify(line, pending) == kind


def test_parsers() -> None:
    answer = parse_registration('2,5,"2F1A","01B3C40F",7', answer=True)
    assert answer.stat is RegStat.ROAMING and answer.stat.registered and answer.stat.roaming
    assert answer.technology == "lte" and answer.lac == "2F1A"
    urc = parse_registration("2", answer=False)
    assert urc.stat is RegStat.SEARCHING and not urc.stat.registered
    assert csq_to_dbm("17,99") == -79.0
    assert csq_to_dbm("31,0") == -51.0
    assert csq_to_dbm("99,99") is None
    assert parse_cops("0").mcc_mnc is None
