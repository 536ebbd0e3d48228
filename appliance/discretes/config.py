"""The discretes component."""
from __future__ import annotations

from dataclasses import dataclass, field

from hal.discretes.signals import SignalMapError, SignalOverride, build_signal_map

PIN_FACTORIES = ("lgpio", "mock", "sim")


@dataclass(frozen=True)
class DiscretesConfig:
    """[discretes]: the hardware's discrete signals through gpiozero.

    [discretes.signals.NAME] tables override single fields of the board's map (hal.discretes.signals), e.g.
    `[discretes.signals.ENB0SIG]` `line = 5`, `active_high = false`, `default = true`, `debounce_ms = 10`.
    """

    pin_factory: str = "lgpio"  # lgpio on the aircraft, mock in unit tests, sim in hardware-in-the-loop runs
    pin_address: str = ""  # HOST:PORT of the simulator's pin server, for pin_factory = "sim"
    # the gpiozero board (pin map) of the mock and sim factories, and of lgpio on a machine that is no Pi (CM3:
    # GPIO0..45)
    board_revision: str = "a020a0"
    ride_through_ms: float = 200.0  # an interrupt up to this long is ridden through without a restart
    restore_grace_ms: float = 100.0  # margin for the restore edge to arrive after ride_through_ms (all is flushed)
    confirm_ms: float = 2.0  # how long a power-fail edge waits for the CPLD's latched level to confirm it
    bit_settle_ms: float = 50.0  # how long the built-in test waits for INTTEST_IN to follow INTTEST_OUT
    modem_boot_timeout: float = 10.0  # after power-on, how long to wait for GSMSIG_STATUS
    retry_seconds: float = 30.0  # a GPIO chip (or pin server) that is not there is tried again this often
    audit_file: str = "discretes-audit.jsonl"  # output changes, in storage.dir (relative) or absolute
    signals: dict[str, SignalOverride] = field(default_factory=dict)

    def validate(self) -> None:
        if self.pin_factory == "sim" and not self.pin_address:
            raise ValueError("pin_address", 'required with pin_factory = "sim" (HOST:PORT of the pin server)')
        if self.retry_seconds <= 0:
            raise ValueError("retry_seconds", "must be positive")
        if self.ride_through_ms < 0 or self.restore_grace_ms < 0 or self.confirm_ms < 0:
            raise ValueError("ride_through_ms", "times must not be negative")
        try:
            int(self.board_revision, 16)
        except ValueError:
            raise ValueError("board_revision", f"expected a hex revision code, got {self.board_revision!r}") from None
        try:
            build_signal_map(self.signals)
        except SignalMapError as error:
            raise ValueError(error.args[0], error.args[1]) from None
