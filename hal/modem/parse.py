"""Parsers for the answers the appliance reads (3GPP TS 27.007). Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class RegStat(IntEnum):
    """`<stat>` of +CREG/+CGREG/+CEREG."""

    NOT_SEARCHING = 0
    HOME = 1
    SEARCHING = 2
    DENIED = 3
    UNKNOWN = 4
    ROAMING = 5
    SMS_ONLY_HOME = 6
    SMS_ONLY_ROAMING = 7
    EMERGENCY_ONLY = 8
    CSFB_NOT_PREFERRED_HOME = 9
    CSFB_NOT_PREFERRED_ROAMING = 10

    @property
    def registered(self) -> bool:
        return self in _REGISTERED

    @property
    def roaming(self) -> bool:
        return self in (RegStat.ROAMING, RegStat.SMS_ONLY_ROAMING, RegStat.CSFB_NOT_PREFERRED_ROAMING)


_REGISTERED = {
    RegStat.HOME,
    RegStat.ROAMING,
    RegStat.SMS_ONLY_HOME,
    RegStat.SMS_ONLY_ROAMING,
    RegStat.CSFB_NOT_PREFERRED_HOME,
    RegStat.CSFB_NOT_PREFERRED_ROAMING,
}

ACCESS_TECHNOLOGIES = {
    0: "gsm",
    1: "gsm-compact",
    2: "umts",
    3: "edge",
    4: "hsdpa",
    5: "hsupa",
    6: "hspa",
    7: "lte",
}


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Registration:
    stat: RegStat
    lac: str | None = None
    cell: str | None = None
    act: int | None = None

    @property
    def technology(self) -> str | None:
        return ACCESS_TECHNOLOGIES.get(self.act) if self.act is not None else None


def _fields(payload: str) -> list[str]:
    return [f.strip().strip('"') for f in payload.split(",")]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ParseError(f"{what}: not a number: {text!r}") from None


def parse_registration(payload: str, *, answer: bool) -> Registration:
    """`<n>,<stat>[,<lac>,<ci>[,<AcT>]]` (answer) or `<stat>[,<lac>,<ci>[,<AcT>]]` (URC)."""
    fields = _fields(payload)
    if answer:
        fields = fields[1:]
    if not fields or not fields[0]:
        raise ParseError(f"registration without a stat: {payload!r}")
    stat_number = _int(fields[0], "stat")
    try:
        stat = RegStat(stat_number)
    except ValueError:
        raise ParseError(f"unknown registration stat {stat_number}") from None
    lac = fields[1] or None if len(fields) > 1 else None
    cell = fields[2] or None if len(fields) > 2 else None
    act = _int(fields[3], "AcT") if len(fields) > 3 and fields[3] else None
    return Registration(stat, lac, cell, act)


def csq_to_dbm(payload: str) -> float | None:
    """`+CSQ: <rssi>,<ber>` -> dBm (-113 + 2*rssi); None when unknown (99)."""
    fields = _fields(payload)
    rssi = _int(fields[0], "rssi")
    if rssi == 99:
        return None
    if not 0 <= rssi <= 31:
        raise ParseError(f"rssi out of range: {rssi}")
    return -113.0 + 2.0 * rssi


@dataclass(frozen=True)
class Operator:
    mode: int
    mcc_mnc: str | None
    act: int | None


def parse_cops(payload: str) -> Operator:
    """`+COPS: <mode>[,<format>,"<oper>"[,<AcT>]]` with format 2 (numeric MCC+MNC)."""
    fields = _fields(payload)
    mode = _int(fields[0], "mode")
    if len(fields) < 3:
        return Operator(mode, None, None)
    if fields[1] != "2":
        raise ParseError(f"operator not in numeric format: {payload!r}")
    oper = fields[2]
    if not (oper.isdigit() and len(oper) in (5, 6)):
        raise ParseError(f"not an MCC+MNC: {oper!r}")
    act = _int(fields[3], "AcT") if len(fields) > 3 and fields[3] else None
    return Operator(mode, oper, act)


def parse_cpin(payload: str) -> str:
    """`+CPIN: READY` -> "READY" (also SIM PIN, SIM PUK, ...)."""
    value = payload.strip()
    if not value:
        raise ParseError("empty +CPIN answer")
    return value
