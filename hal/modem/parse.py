"""Parsers for the answers the appliance reads (3GPP TS 27.007). Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class RegStat(IntEnum):
    """`<stat>` of +CREG/+CGREG/+CEREG (3GPP TS 27.007 7.2, 10.1.20, 10.1.22)."""

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
    RLOS = 11  # attached for access to restricted local operator services only

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
    8: "ec-gsm-iot",
    9: "lte-nb-iot",
    10: "lte-5gcn",
    11: "nr-5gcn",
    12: "ng-ran",
    13: "lte-nr-dc",
}

# What follows <stat> in each domain's answer (27.007): CGREG carries <rac> after <AcT>; CEREG (n=4/5)
# ends with the PSM timers.
LAYOUTS = {
    "cs": ("lac", "cell", "act", "cause_type", "reject_cause"),
    "ps": ("lac", "cell", "act", "rac", "cause_type", "reject_cause"),
    "eps": ("lac", "cell", "act", "cause_type", "reject_cause", "active_time", "periodic_tau"),
}


class ParseError(ValueError):
    pass


@dataclass(frozen=True)
class Registration:
    """One domain's registration. `lac` (LAC or TAC) and `cell` are upper-case hex, at least 4 digits, None
    when absent or unreadable; `act` is 27.007's access technology, None when absent or not a number."""

    stat: RegStat
    lac: str | None = None
    cell: str | None = None
    act: int | None = None
    rac: str | None = None
    cause_type: int | None = None
    reject_cause: int | None = None

    @property
    def technology(self) -> str | None:
        return ACCESS_TECHNOLOGIES.get(self.act) if self.act is not None else None


def _fields(payload: str) -> list[str]:
    return [f.strip().strip('"').strip() for f in payload.split(",")]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ParseError(f"{what}: not a number: {text!r}") from None


def _decimal(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _hex(text: str, width: int = 4) -> str | None:
    """A LAC, TAC, CI or RAC as vendors send it (quoted or not, any case, leading zeros, an `0x`): canonical
    upper-case hex of at least 4 digits; None when empty or not hex (e.g. Gobi's `  0 5`)."""
    text = text.removeprefix("0x").removeprefix("0X")
    try:
        return f"{int(text, 16):0{width}X}" if text else None
    except ValueError:
        return None


def _act(text: str) -> int | None:
    value = _decimal(text)
    return value if value is not None and value in ACCESS_TECHNOLOGIES else None


def parse_registration(payload: str, *, answer: bool, domain: str = "cs") -> Registration:
    """A +CREG (`domain` "cs"), +CGREG ("ps") or +CEREG ("eps") payload: `<n>,<stat>[,...]` (an answer) or
    `<stat>[,...]` (a URC), with what 27.007 lets follow <stat> (lac, ci, AcT, rac, cause type, reject cause,
    PSM timers), and the vendor variants ModemManager's tests record: leading zeros (`002,001`), spaces, LAC
    and CI unquoted, an access technology that is no number (Samsung's `B`, taken as unknown), the RAC between
    LAC and CI (Novatel, Altair). Raises ParseError only when there is no readable <stat>: a location field
    that cannot be read is None, never a refusal of the whole answer."""
    fields = _fields(payload)
    if answer:
        if len(fields) < 2 or _decimal(fields[0]) is None:
            raise ParseError(f"registration answer without <n>,<stat>: {payload!r}")
        fields = fields[1:]
    if not fields or not fields[0]:
        raise ParseError(f"registration without a stat: {payload!r}")
    stat_number = _int(fields[0], "stat")
    try:
        stat = RegStat(stat_number)
    except ValueError:
        raise ParseError(f"unknown registration stat {stat_number}") from None
    rest = fields[1:]
    values: dict[str, str] = {}
    if len(rest) >= 4 and _act(rest[2]) is None and _act(rest[3]) is not None and len(rest[1]) <= 2:
        values = {"lac": rest[0], "rac": rest[1], "cell": rest[2], "act": rest[3]}  # lac, rac, ci, AcT
    else:
        values = dict(zip(LAYOUTS.get(domain, LAYOUTS["cs"]), rest, strict=False))
    return Registration(
        stat,
        lac=_hex(values.get("lac", "")),
        cell=_hex(values.get("cell", "")),
        act=_act(values.get("act", "")),
        rac=_hex(values.get("rac", ""), 2),
        cause_type=_decimal(values.get("cause_type", "")),
        reject_cause=_decimal(values.get("reject_cause", "")),
    )


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
