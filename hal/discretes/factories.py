"""Pin factories by name. A factory that cannot load is an error for the caller, never a fallback to another."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from hal.discretes.netpins import DEFAULT_REVISION


class PinFactoryError(RuntimeError):
    """A pin factory cannot be made (its library, chip or server is not there)."""


class UnknownPinFactory(PinFactoryError):
    """No pin factory has that name: a config mistake, not missing hardware."""


def make_pin_factory(name: str, address: str = "", revision: str = DEFAULT_REVISION) -> Any:
    """"lgpio" (the aircraft), "mock" (gpiozero's MockFactory), "sim" (NetPinFactory at `address`), or any
    other name registered under the `gpiozero_pin_factories` entry point group."""
    try:
        if name == "mock":
            from gpiozero.pins.mock import MockFactory

            return MockFactory(revision=revision)
        if name == "sim":
            from hal.discretes.netpins import NetPinFactory

            return NetPinFactory(address, revision=revision)
        if name == "lgpio":
            return _lgpio_factory(int(revision, 16))
        for entry in entry_points(group="gpiozero_pin_factories"):
            if entry.name == name:
                return entry.load()()
    except Exception as error:
        raise PinFactoryError(f"pin factory {name!r} cannot load: {error}") from error
    raise UnknownPinFactory(f"unknown pin factory {name!r} (lgpio, mock, sim)")


def _lgpio_factory(board_revision: int) -> Any:
    """gpiozero's lgpio factory on any Linux gpiochip. gpiozero takes the pin map from the Pi's revision code;
    a board that is no Pi (an x86 cabin server with a GPIO chip) has none, so the configured board's is used."""
    from gpiozero.exc import PinUnknownPi
    from gpiozero.pins.lgpio import LGPIOFactory

    class BoardLGPIOFactory(LGPIOFactory):  # type: ignore[misc]
        def _get_revision(self) -> int:
            try:
                return int(super()._get_revision())
            except PinUnknownPi:
                return board_revision

    return BoardLGPIOFactory()

