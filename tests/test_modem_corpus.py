"""Recorded AT transcripts of several modem families (tests/data/modem), replayed through the real modem
component and AT channel over a real pty and held to their goldens, like gpsd's regression logs. Goldens are
made by `make modem-goldens`, never by the tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from hal.modem import classify
from hal.modem.parse import RegStat, parse_registration
from tests.data.modem.replay import golden_path, replay, transcripts

NAMES = [p.stem for p in transcripts()]
DATA = Path(__file__).resolve().parent / "data" / "modem"


def _golden(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(golden_path(DATA / f"{name}.at").read_text())
    return result


def test_the_corpus_covers_six_families() -> None:
    assert len(NAMES) >= 6
    assert all(golden_path(DATA / f"{n}.at").is_file() for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
async def test_replay_matches_golden(name: str) -> None:
    assert await replay(DATA / f"{name}.at") == _golden(name)


@pytest.mark.parametrize("name", NAMES)
def test_every_answer_is_taken_and_nothing_times_out(name: str) -> None:
    for step in _golden(name)["steps"]:
        assert step["ended"] == "ok" and step["unrecorded"] == [], step
        assert step["after"]["consecutive_timeouts"] == 0 and step["after"]["garbage_lines"] == 0


@pytest.mark.parametrize("name", NAMES)
def test_abroad_every_family_reports_roaming(name: str) -> None:
    last = _golden(name)["steps"][-1]["after"]
    assert last["registered"] and last["roaming"], last


def test_a_stale_eps_home_never_wins_over_roaming() -> None:
    """Novatel's EPS answer (RAC between TAC and CI) used to be refused, leaving the URC's EPS "home" in force."""
    first, second = _golden("novatel_usb551l")["steps"][1:]
    assert first["after"]["registrations"]["eps"]["rac"] == "20"
    assert second["after"]["reason"] == "roaming"
    assert {r["stat"] for r in second["after"]["registrations"].values()} == {"roaming"}


async def test_command_not_support_is_a_final_result_code() -> None:
    started = time.monotonic()
    golden = await replay(DATA / "huawei_mu709.at")
    assert time.monotonic() - started < 3  # no command waited for its timeout
    assert "eps" not in golden["steps"][-1]["after"]["registrations"]  # not answered: unknown


@pytest.mark.parametrize(
    ("payload", "answer", "domain", "stat", "lac", "cell", "act"),
    [  # ModemManager's src/tests/test-modem-helpers.c, by the modem that sent it
        ("1,1,84CD,00D30173", True, "cs", RegStat.HOME, "84CD", "D30173", None),  # mercury
        ("2,1,\"CE00\",\"01CEAD8F\"", True, "cs", RegStat.HOME, "CE00", "1CEAD8F", None),  # sek850i
        ("2,0,00,0", True, "cs", RegStat.NOT_SEARCHING, "0000", "0000", None),  # e160g, unregistered
        ("2,,", False, "cs", RegStat.SEARCHING, None, None, None),  # xu870
        ("002,001,\"18d8\",\"ffff\"", True, "cs", RegStat.HOME, "18D8", "FFFF", None),  # iridium
        ("001,\"0001\",\"0010\",000", False, "cs", RegStat.HOME, "0001", "0010", 0),  # leading zeros, URC
        ("2,6,\"8B37\",\"0A265185\",7", True, "cs", RegStat.SMS_ONLY_HOME, "8B37", "A265185", 7),  # u-blox
        ("2,1,000B,2816, B, C2816", True, "cs", RegStat.HOME, "000B", "2816", None),  # Samsung S8500
        ("2,1,  0 5, 2715", True, "cs", RegStat.HOME, None, "2715", None),  # Gobi
        ("1,\"1422\",\"00000142\",3,\"00\"", False, "ps", RegStat.HOME, "1422", "0142", 3),  # with RAC
        ("002,0011,\"0f0d\",\"14c3\"", True, "ps", 11, "0F0D", "14C3", None),  # 11: RLOS
        ("2,10, 2CA8, 20 ,B5583D ,7", True, "eps", RegStat.CSFB_NOT_PREFERRED_ROAMING, "2CA8", "B5583D", 7),
        ("1, 2, 0001, 00000100, 7", True, "eps", RegStat.SEARCHING, "0001", "0100", 7),  # Altair
        ("3,3,\"1A2B\",\"01A2B3C4\",7,0,15", True, "eps", RegStat.DENIED, "1A2B", "1A2B3C4", 7),  # n=3
    ],
)
def test_registration_forms(  # noqa: PLR0917 (one parameter per column of the table)
    payload: str, answer: bool, domain: str, stat: int, lac: str | None, cell: str | None, act: int | None
) -> None:
    parsed = parse_registration(payload, answer=answer, domain=domain)
    assert (parsed.stat, parsed.lac, parsed.cell, parsed.act) == (stat, lac, cell, act)


def test_reject_cause_and_command_not_support() -> None:
    denied = parse_registration("3,3,\"1A2B\",\"01A2B3C4\",7,0,15", answer=True, domain="eps")
    assert (denied.cause_type, denied.reject_cause) == (0, 15)
    assert classify("COMMAND NOT SUPPORT", "AT+CEREG?") == "final"
    assert classify("+CREG:002,001,\"18d8\",\"ffff\"", "AT+CREG?") == "answer"
