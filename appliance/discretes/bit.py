"""The built-in test at boot: INTTEST_OUT looped back to INTTEST_IN at both levels, the CPLD's hardware
revision (CPLD_REV0..1) and the configuration strapping (CONFIGSIG0..2). A failure is a result, not an error."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from hal.discretes.bank import DiscreteBank


@dataclass(frozen=True)
class BitResult:
    passed: bool
    loopback: dict[str, bool] = field(default_factory=dict)  # "high"/"low": read back as driven
    cpld_revision: int | None = None
    strapping: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "loopback": dict(self.loopback),
            "cpld_revision": self.cpld_revision,
            "strapping": self.strapping,
            "reason": self.reason,
        }


def _bits(bank: DiscreteBank, names: list[str]) -> int:
    return sum(int(bank.read(name)) << i for i, name in enumerate(names))


async def _follows(bank: DiscreteBank, level: bool, settle_s: float) -> bool:
    deadline = time.monotonic() + settle_s
    while bank.read("INTTEST_IN") != level:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.001)
    return True


async def run_bit(bank: DiscreteBank, settle_s: float = 0.05) -> BitResult:
    loopback: dict[str, bool] = {}
    try:
        revision = _bits(bank, ["CPLD_REV0", "CPLD_REV1"])
        strapping = _bits(bank, ["CONFIGSIG0", "CONFIGSIG1", "CONFIGSIG2"])
        default = bank.signals["INTTEST_OUT"].default
        try:
            for label, level in (("high", True), ("low", False)):
                bank.set("INTTEST_OUT", level)
                loopback[label] = await _follows(bank, level, settle_s)
        finally:
            bank.set("INTTEST_OUT", default)
    except Exception as error:  # a pin that cannot be read or driven fails the test, it does not stop the boot
        return BitResult(False, loopback, reason=f"pin error: {error}")
    stuck = [label for label, ok in loopback.items() if not ok]
    if stuck:
        return BitResult(False, loopback, revision, strapping,
                         f"INTTEST_IN did not follow INTTEST_OUT {' and '.join(stuck)}")
    return BitResult(True, loopback, revision, strapping)
