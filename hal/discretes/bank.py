"""The bank of discrete signals: one gpiozero device per signal, each signal's state, transitions, last change.

Edges arrive on gpiozero's threads (a pin factory's callback thread); they are handed to the event loop with
`call_soon_threadsafe` and everything else happens on the loop. Debounce is done here, the same for every pin
factory (gpiozero's own `bounce_time` means different things per factory, and MockPin ignores it): a change
is accepted once the raw level has stayed at the new value for `debounce_ms`; it is stamped with the time of
its first edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice

from hal.discretes.signals import Signal

log = logging.getLogger("hal.discretes")
MAX_EDGE_AGE_S = 1.0  # an edge reported later than this after its own stamp is stamped when it arrives

Listener = Callable[[str, bool, float], None]  # (signal, active, edge monotonic time), called on the loop


@dataclass
class SignalState:
    signal: Signal
    active: bool = False
    raw: bool = False  # the last level reported by the pin, before debounce
    transitions: int = 0
    last_change_wall: float | None = None
    last_change_monotonic: float | None = None
    raw_edges: int = 0

    def as_dict(self) -> dict[str, Any]:
        s = self.signal
        return {
            "line": s.line,
            "direction": s.direction,
            "active_high": s.active_high,
            "debounce_ms": s.debounce_ms,
            "active": self.active,
            "transitions": self.transitions,
            "last_change": self.last_change_wall,
        }


class DiscreteBank:
    def __init__(
        self,
        signals: dict[str, Signal],
        factory: Any,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.signals = dict(signals)
        self.factory = factory
        self._monotonic = monotonic
        self._wall = wall
        self._devices: dict[str, Any] = {}
        self.states: dict[str, SignalState] = {name: SignalState(s) for name, s in self.signals.items()}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listeners: list[Listener] = []
        self._pending: dict[str, asyncio.TimerHandle] = {}

    # --- lifecycle ------------------------------------------------------------------------------------------

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open every device (outputs at their defaults) and read every input's level. Raises on a pin error."""
        self._loop = loop
        try:
            for name, signal in self.signals.items():
                if signal.direction == "out":
                    device = DigitalOutputDevice(
                        signal.pin, active_high=signal.active_high, initial_value=signal.default,
                        pin_factory=self.factory,
                    )
                    self.states[name].active = self.states[name].raw = signal.default
                else:
                    device = DigitalInputDevice(
                        signal.pin, pull_up=None, active_state=signal.active_high, bounce_time=None,
                        pin_factory=self.factory,
                    )
                    level = bool(device.is_active)
                    self.states[name].active = self.states[name].raw = level
                    device.when_activated = self._callback(name, True, device)
                    device.when_deactivated = self._callback(name, False, device)
                self._devices[name] = device
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        for handle in self._pending.values():
            handle.cancel()
        self._pending.clear()
        for device in self._devices.values():
            try:
                device.close()
            except Exception:
                log.exception("closing a discrete device failed")
        self._devices.clear()

    def add_listener(self, listener: Listener) -> None:
        """`listener(signal, active, edge_time)` after every accepted (debounced) change, on the loop."""
        self._listeners.append(listener)

    # --- reading and driving --------------------------------------------------------------------------------

    def read(self, name: str) -> bool:
        """The signal's live logical level from its pin (no debounce). KeyError for an unknown name."""
        return bool(self._devices[name].is_active)

    def set(self, name: str, active: bool) -> bool:
        """Drive an output; returns the previous logical level. KeyError unknown, ValueError for an input."""
        signal = self.signals[name]
        if signal.direction != "out":
            raise ValueError(f"{name} is an input")
        state = self.states[name]
        previous = state.active
        self._devices[name].value = active
        state.raw = active
        if previous != active:
            self._accept(name, active, self._monotonic())
        return previous

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: state.as_dict() for name, state in self.states.items()}

    # --- edges ----------------------------------------------------------------------------------------------

    def _callback(self, name: str, active: bool, device: DigitalInputDevice) -> Callable[[], None]:
        def on_edge() -> None:  # on a gpiozero thread
            # the edge's own time, from the pin factory's ticks (lgpio: the kernel's stamp; the sim's pins: the
            # pin server's), not this thread's: it may run late on a loaded machine, and a power interrupt's
            # length is measured from here. An age beyond MAX_EDGE_AGE_S is a clock the factory does not share.
            age = (device.active_time if active else device.inactive_time) or 0.0
            stamp = self._monotonic() - (age if 0.0 < age <= MAX_EDGE_AGE_S else 0.0)
            loop = self._loop
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the daemon is gone
                    loop.call_soon_threadsafe(self._raw_edge, name, active, stamp)

        return on_edge

    def _raw_edge(self, name: str, active: bool, stamp: float) -> None:
        state = self.states.get(name)
        if state is None or name not in self._devices:
            return
        state.raw = active
        state.raw_edges += 1
        pending = self._pending.pop(name, None)
        if pending is not None:
            pending.cancel()
        if active == state.active:
            return  # a bounce back before it settled
        if state.signal.debounce_ms <= 0:
            self._accept(name, active, stamp)
            return
        assert self._loop is not None
        self._pending[name] = self._loop.call_later(
            state.signal.debounce_ms / 1000.0, self._settled, name, active, stamp
        )

    def _settled(self, name: str, active: bool, stamp: float) -> None:
        self._pending.pop(name, None)
        state = self.states[name]
        if state.raw == active and state.active != active:
            self._accept(name, active, stamp)

    def _accept(self, name: str, active: bool, stamp: float) -> None:
        state = self.states[name]
        state.active = active
        state.transitions += 1
        state.last_change_wall = self._wall()
        state.last_change_monotonic = stamp
        for listener in self._listeners:
            try:
                listener(name, active, stamp)
            except Exception:
                log.exception("discrete listener failed for %s", name)
