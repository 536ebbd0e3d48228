"""The map of discrete signals: name, GPIO line, direction, polarity, debounce, default output level.

`DEFAULT_SIGNALS` is the board as shipped; the daemon's [discretes.signals.NAME] tables override single fields.
Line numbers are BCM GPIO numbers of a Compute Module 3 class board (GPIO0..45); lines 0..3 (ID EEPROM, I2C)
and 14..15 (UART) are left free.

Roles:
- GPIO_ACFAILSIG / GPIO_DCFAILSIG / GPIO_OVERTEMPSIG / GPIO_SYSENSIG are the CPLD's fast interrupt lines;
  ACFAILSIG / DCFAILSIG / OVERTEMPSIG / SYSENSIG are the CPLD's latched levels that confirm them.
- GSM_POWER_STATUS is the modem's power-enable OUTPUT (the CPLD reads it back as "commanded power state");
  GSMSIG_STATUS is the modem's own status INPUT (active while the modem is powered and running).
- INTTEST_OUT is looped back on the board to INTTEST_IN for the built-in test.
- CPLD_REV0..1 give the hardware revision, CONFIGSIG0..2 the configuration strapping.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class Signal:
    name: str
    line: int
    direction: Direction
    active_high: bool = True
    debounce_ms: float = 0.0
    default: bool = False  # outputs only: the level driven at start (logical: True = active)

    @property
    def pin(self) -> str:
        return f"GPIO{self.line}"


def _in(name: str, line: int, active_high: bool = True, debounce_ms: float = 0.0) -> Signal:
    return Signal(name, line, "in", active_high, debounce_ms)


def _out(name: str, line: int, active_high: bool = True, default: bool = False) -> Signal:
    return Signal(name, line, "out", active_high, 0.0, default)


DEFAULT_SIGNALS: tuple[Signal, ...] = (
    # power and temperature, latched by the CPLD (confirmation levels)
    _in("DCFAILSIG", 4, active_high=False),
    _in("ACFAILSIG", 5, active_high=False),
    _in("OVERTEMPSIG", 6, active_high=False, debounce_ms=10.0),
    _in("SYSENSIG", 7, debounce_ms=20.0),
    # the CPLD's interrupt lines: no debounce, the power-fail path must start at once
    _in("GPIO_DCFAILSIG", 8, active_high=False),
    _in("GPIO_ACFAILSIG", 9, active_high=False),
    _in("GPIO_OVERTEMPSIG", 10, active_high=False, debounce_ms=10.0),
    _in("GPIO_SYSENSIG", 11, debounce_ms=20.0),
    # modem power
    _out("GSM_POWER_STATUS", 12, default=True),
    _in("GSMSIG_STATUS", 13, debounce_ms=5.0),
    # load enables (default on) and isolated outputs (default off)
    _out("ENB0SIG", 16, default=True),
    _out("ENB1SIG", 17, default=True),
    _out("ENB2SIG", 18, default=True),
    _out("ENB3SIG", 19, default=True),
    _out("ENB4SIG", 20, default=True),
    _out("ENB5SIG", 21, default=True),
    _out("ISO_OUT0", 22),
    _out("ISO_OUT1", 23),
    _out("ISO_OUT2", 24),
    _out("ISO_OUT3", 25),
    # sensors' shared alert line (open drain)
    _in("ALERT", 26, active_high=False, debounce_ms=5.0),
    # built-in test loopback
    _out("INTTEST_OUT", 27),
    _in("INTTEST_IN", 28),
    # hardware revision and configuration strapping
    _in("CPLD_REV0", 29),
    _in("CPLD_REV1", 30),
    _in("CONFIGSIG0", 31),
    _in("CONFIGSIG1", 32),
    _in("CONFIGSIG2", 33),
)

SIGNAL_NAMES: tuple[str, ...] = tuple(s.name for s in DEFAULT_SIGNALS)


@dataclass(frozen=True)
class SignalOverride:
    """One [discretes.signals.NAME] table: only the fields given replace the default's."""

    line: int | None = None
    direction: Direction | None = None
    active_high: bool | None = None
    debounce_ms: float | None = None
    default: bool | None = None


class SignalMapError(ValueError):
    """args: (key, message), as the config loader expects from validate()."""


def build_signal_map(overrides: dict[str, SignalOverride] | None = None,
                     base: tuple[Signal, ...] = DEFAULT_SIGNALS) -> dict[str, Signal]:
    """The effective map. Unknown names, bad lines and two signals on one line are refused."""
    signals = {s.name: s for s in base}
    for name, override in (overrides or {}).items():
        if name not in signals:
            raise SignalMapError(f"signals.{name}", f"unknown signal (known: {', '.join(sorted(signals))})")
        changes = {k: v for k, v in vars(override).items() if v is not None}
        signals[name] = replace(signals[name], **changes)
    used: dict[int, str] = {}
    overridden = set(overrides or {})
    # defaults first, so a clash is reported on the overridden signal that caused it
    for signal in sorted(signals.values(), key=lambda s: s.name in overridden):
        if not 0 <= signal.line <= 53:
            raise SignalMapError(f"signals.{signal.name}.line", f"GPIO line {signal.line} out of range 0..53")
        if signal.debounce_ms < 0:
            raise SignalMapError(f"signals.{signal.name}.debounce_ms", "must not be negative")
        other = used.get(signal.line)
        if other is not None:
            raise SignalMapError(f"signals.{signal.name}.line", f"GPIO line {signal.line} is already {other}")
        used[signal.line] = signal.name
    return signals
