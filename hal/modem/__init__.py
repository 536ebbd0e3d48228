"""The 3G modem's AT port: `ATChannel` (at.py) and the answer parsers (parse.py)."""

from hal.modem.at import ATChannel, ATError, ATResponse, ATTimeout, PortClosed, classify
from hal.modem.parse import Operator, ParseError, Registration, RegStat, csq_to_dbm, parse_cops, parse_cpin

__all__ = [
    "ATChannel",
    "ATError",
    "ATResponse",
    "ATTimeout",
    "Operator",
    "ParseError",
    "PortClosed",
    "RegStat",
    "Registration",
    "classify",
    "csq_to_dbm",
    "parse_cops",
    "parse_cpin",
]
