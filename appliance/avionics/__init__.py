"""The avionics component: the ARINC 429 adapter read-only, turned into a live flight state.

reader.py (the component: port thread, reopen, silence, health) -> core.py (per read: the codec's bulk stream,
counters, FlightState.apply) -> state.py (FlightState, the FlightView of appliance/ports/) with phase.py (the
derived flight phase). capture_cli.py records and replays the wire; decode_cli.py prints decoded words.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from appliance import ports
from appliance.avionics.config import AvionicsConfig
from appliance.core.spec import ComponentSpec, deferred, lazy


def _flight_section(component: Any) -> Any:
    return component.state.snapshot()


def _avionics_section(component: Any) -> Any:
    """Per label and SDI status and age, the required parameters, error rates and current faults."""
    return component.status_section()


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decode = sub.add_parser("decode", help="decode adapter-framed ARINC 429 bytes to JSON lines")
    decode.add_argument("--stats", action="store_true", help="print only a final JSON summary")
    decode.add_argument("file", nargs="?", default="-", help="a capture or raw byte file, or - for stdin")
    decode.set_defaults(func=lazy("appliance.avionics.decode_cli:main"))

    capture = sub.add_parser("capture", help="record raw adapter bytes with receive times")
    capture.add_argument("--port", required=True, help="pyserial URL of the adapter")
    capture.add_argument("--out", required=True, type=Path)
    capture.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until ^C)")
    capture.add_argument("--baudrate", type=int, default=921600)
    capture.set_defaults(func=lazy("appliance.avionics.capture_cli:capture"))

    replay = sub.add_parser("replay", help="play a recording back through the real reader")
    replay.add_argument("file", type=Path)
    replay.add_argument("--speed", type=float, default=1.0, help="time compression (0 = as fast as possible)")
    replay.set_defaults(func=lazy("appliance.avionics.capture_cli:replay"))


COMPONENT = ComponentSpec(
    name="avionics",
    config=AvionicsConfig,
    build=deferred("appliance.avionics.component:build"),
    provides=(ports.FLIGHT,),
    critical=True,
    status={"flight": _flight_section, "avionics": _avionics_section},
    cli=_cli,
)
