from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiscretesConfig:
    """[discretes]: the hardware's discrete signals through gpiozero."""

    pin_factory: str = "lgpio"  # lgpio on the aircraft, mock in unit tests, sim in hardware-in-the-loop runs
    pin_address: str = ""  # HOST:PORT of the simulator's pin server, for pin_factory = "sim"
