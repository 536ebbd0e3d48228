"""hal/ pieces on their own: LM75 and INA219 codecs and drivers over the simulator's register maps, the SMBus
word byte order, and the sim pin factory's edge semantics with gpiozero devices."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from gpiozero import DigitalInputDevice, DigitalOutputDevice
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_sim.i2c import RegisterServer, SimINA219, SimLM75
from hal.discretes.netpins import NetPinFactory
from hal.sensors.bus import swap16
from hal.sensors.ina219 import INA219, SensorFault
from hal.sensors.lm75 import LM75, decode_temperature, encode_temperature
from tests.hardware.harness import SimThread


class DirectBus:
    """smbus2's word semantics (low byte first) over a RegisterServer's devices, without a socket."""

    def __init__(self, server: RegisterServer) -> None:
        self.server = server

    def _answer(self, command: str) -> str:
        answer = self.server.command(command)
        if answer.startswith("!"):
            raise OSError(121, answer)
        return answer[1:].strip()

    def read_byte_data(self, addr: int, reg: int) -> int:
        return bytes.fromhex(self._answer(f"R {addr} {reg} 1"))[0]

    def write_byte_data(self, addr: int, reg: int, value: int) -> None:
        self._answer(f"W {addr} {reg} {value:02x}")

    def read_word_data(self, addr: int, reg: int) -> int:
        low, high = bytes.fromhex(self._answer(f"R {addr} {reg} 2"))
        return low | high << 8

    def write_word_data(self, addr: int, reg: int, value: int) -> None:
        self._answer(f"W {addr} {reg} {value & 0xFF:02x}{value >> 8:02x}")

    def read_i2c_block_data(self, addr: int, reg: int, length: int) -> list[int]:
        return list(bytes.fromhex(self._answer(f"R {addr} {reg} {length}")))

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("celsius", "raw"), [(25.0, 0x1900), (0.5, 0x0080), (-0.5, 0xFF80), (-25.0, 0xE700),
                                               (125.0, 0x7D00), (-55.0, 0xC900)])
def test_lm75_datasheet_values(celsius: float, raw: int) -> None:
    assert encode_temperature(celsius) == raw
    assert decode_temperature(raw) == celsius


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-110, max_value=250))
def test_lm75_driver_reads_what_the_chip_holds(half_degrees: int) -> None:
    chip = SimLM75()
    bus = DirectBus(RegisterServer([chip]))
    chip.set_temperature(half_degrees / 2)
    assert LM75(bus).temperature() == half_degrees / 2


def test_word_order_is_swapped_on_the_smbus() -> None:
    chip = SimLM75()
    bus = DirectBus(RegisterServer([chip]))
    chip.set_temperature(25.0)  # register 0x1900, high byte first on the wire
    assert bus.read_word_data(0x48, 0) == 0x0019
    assert swap16(0x0019) == 0x1900


def test_lm75_limits_drive_its_comparator() -> None:
    events: list[bool] = []
    chip = SimLM75(on_os=events.append)
    sensor = LM75(DirectBus(RegisterServer([chip])))
    sensor.configure(limit=70.0, hysteresis=4.0)
    assert sensor.limits() == (70.0, 66.0)
    for celsius in (69.5, 70.0, 67.0, 65.5):
        chip.set_temperature(celsius)
    assert events == [True, False]


def test_ina219_reads_voltage_current_and_detects_a_reset() -> None:
    chip = SimINA219(bus_volts=27.996, amperes=-1.25)
    sensor = INA219(DirectBus(RegisterServer([chip])), shunt_ohms=0.1)
    sensor.configure()
    reading = sensor.read()
    assert reading.bus_volts == pytest.approx(27.996, abs=0.004)
    assert reading.current_amperes == pytest.approx(-1.25, abs=0.0001)
    assert reading.shunt_volts == pytest.approx(-0.125, abs=1e-5)
    chip.reset()
    with pytest.raises(SensorFault, match="calibration"):
        sensor.read()
    sensor.configure()
    chip.amperes = 4.0  # beyond 32767 * 100 uA: the chip flags a math overflow
    with pytest.raises(SensorFault, match="overflow"):
        sensor.read()


def test_a_device_that_does_not_answer_is_an_oserror() -> None:
    chip = SimLM75()
    chip.answering = False
    with pytest.raises(OSError):
        LM75(DirectBus(RegisterServer([chip]))).temperature()


@pytest.fixture
def board() -> Iterator[SimThread]:
    sim = SimThread()
    sim.start()
    yield sim
    sim.stop()


def test_sim_pins_edges_and_bounce(board: SimThread) -> None:
    device = board.device
    assert device is not None
    factory = NetPinFactory(device.pins.address)
    try:
        alert = DigitalInputDevice("GPIO26", pull_up=None, active_state=False, pin_factory=factory)
        activated = threading.Event()
        alert.when_activated = activated.set
        board.call(device.board.set_signal, "ALERT", True)
        assert activated.wait(2.0) and alert.is_active
        pin = factory.pin("GPIO26")
        seen: list[bool] = []
        pin.when_changed = None
        pin.edges = "falling"
        pin.bounce = 0.2

        def changed(ticks: float, state: bool) -> None:
            seen.append(state)

        pin.when_changed = changed  # gpiozero keeps a weak reference: `changed` lives to the end of the test
        asyncio.run(asyncio.sleep(0.25))  # past the bounce time of the edge reported above
        for active in (False, True, False, True):  # ALERT is active low: active = falling edge
            board.call(device.board.set_signal, "ALERT", active)
        board.call(device.board.set_signal, "ALERT", False)
        asyncio.run(asyncio.sleep(0.1))
        assert seen == [False]  # one falling edge reported: the second within the bounce time
        out = DigitalOutputDevice("GPIO27", pin_factory=factory)
        out.on()
        assert board.call(device.board.active, "INTTEST_IN")
        with pytest.raises(Exception, match="driven by the board"):
            DigitalOutputDevice("GPIO9", pin_factory=factory)  # GPIO_ACFAILSIG: an input of the board
    finally:
        factory.close()
