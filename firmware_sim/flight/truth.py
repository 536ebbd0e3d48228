"""Every flight parameter at one scenario instant, by the appliance's parameter names."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from firmware_sim.flight.geo import (
    isa_temperature,
    speed_of_sound_kt,
    total_air_temperature,
    wrap180,
    wrap360,
)
from firmware_sim.flight.profile import ISA_DEVIATION_C, Segment, wind

MAGNETIC_VARIATION_E = 1.0  # degrees east (Iberia, 2020s): magnetic = true - variation


def parameters(segment: Segment, t: float, start_utc: datetime) -> dict[str, Any]:
    """The truth the avionics would put on the bus at scenario time `t` (inside `segment`)."""
    leg = segment.leg
    along = segment.along(t)
    lat, lon = leg.position(along)
    track = leg.track(along)
    altitude = segment.altitude(t)
    ground_speed = segment.ground_speed(t)
    wind_speed, wind_from = wind(altitude)
    relative = math.radians(wind_from - track)
    airborne = not segment.on_ground
    true_airspeed = max(ground_speed + wind_speed * math.cos(relative), 0.0)
    heading = track
    if airborne and true_airspeed > 50.0:
        heading = track + math.degrees(math.asin(max(-1.0, min(1.0, wind_speed * math.sin(relative) / true_airspeed))))
    sat = isa_temperature(altitude, ISA_DEVIATION_C)
    mach = true_airspeed / speed_of_sound_kt(sat)
    pitch, roll, yaw = _attitude(segment, t)
    utc = start_utc + timedelta(seconds=t)
    return {
        "altitude": altitude,
        "mach_speed": mach,
        "total_air_temperature": total_air_temperature(sat, mach),
        "outside_temperature": sat,
        "latitude": lat,
        "longitude": lon,
        "ground_speed": ground_speed,
        "heading": wrap360(heading),
        "wind_speed": wind_speed,
        "wind_direction": wind_from,
        "magnetic_heading": wrap360(heading - MAGNETIC_VARIATION_E),
        "pitch": pitch,
        "roll": roll,
        "yaw": yaw,
        "utc": utc.isoformat(),
        "utc_time": utc.strftime("%H:%M:%S"),
        "date": utc.strftime("%Y-%m-%d"),
        "flight_number": leg.flight_number,
        "flight_id": leg.flight_id,
        "origin": leg.origin.icao,
        "destination": leg.destination.icao,
        "vertical_speed": segment.vertical_speed(t),
    }


def _attitude(segment: Segment, t: float) -> tuple[float, float, float]:
    """(pitch deg nose up, roll deg right wing down, yaw rate deg/s nose right): the segment's typical attitude
    with slow, gentle oscillations (turbulence and small heading corrections)."""
    u = 0.0 if math.isinf(segment.duration) else (t - segment.start) / segment.duration
    base = {
        "gate": 0.5,
        "taxi_out": 0.5,
        "takeoff": 0.5 if u < 0.85 else 0.5 + 11.5 * (u - 0.85) / 0.15,
        "climb": 12.0 - 9.0 * u,
        "cruise": 2.5,
        "descent": -0.5,
        "approach": 2.5,
        "landing": 1.0,
        "taxi_in": 0.5,
    }[segment.kind]
    if segment.kind in ("gate",):
        return base, 0.0, 0.0
    if segment.on_ground:
        return base, 0.0, 2.0 * math.sin(2 * math.pi * t / 60.0)
    pitch = base + 0.3 * math.sin(2 * math.pi * t / 7.3)
    roll = 2.0 * math.sin(2 * math.pi * t / 90.0)
    yaw = 0.4 * math.cos(2 * math.pi * t / 90.0)
    return wrap180(pitch), roll, yaw
