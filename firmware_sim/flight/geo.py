"""Great-circle geometry and the standard atmosphere, for the flight profile."""

from __future__ import annotations

import math

EARTH_RADIUS_NM = 3440.065
KT_PER_SQRT_KELVIN = 38.967854  # speed of sound in knots = 38.967854 * sqrt(T in kelvin)


def wrap180(degrees: float) -> float:
    """An angle in [-180, 180)."""
    return (degrees + 180.0) % 360.0 - 180.0


def wrap360(degrees: float) -> float:
    """An angle in [0, 360)."""
    return degrees % 360.0


def central_angle(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Angle (radians) between two points on the sphere (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return EARTH_RADIUS_NM * central_angle(lat1, lon1, lat2, lon2)


def initial_bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """True course from point 1 towards point 2, degrees 0-360."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return wrap360(math.degrees(math.atan2(y, x)))


def along_great_circle(lat1: float, lon1: float, lat2: float, lon2: float, fraction: float) -> tuple[float, float]:
    """The point at `fraction` of the way from 1 to 2 on their great circle; below 0 or above 1 it continues
    the same circle before the start or past the end (taxiing to and from the runway)."""
    delta = central_angle(lat1, lon1, lat2, lon2)
    if delta == 0.0:
        return lat1, lon1
    p1, l1, p2, l2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = math.sin((1 - fraction) * delta) / math.sin(delta)
    b = math.sin(fraction * delta) / math.sin(delta)
    x = a * math.cos(p1) * math.cos(l1) + b * math.cos(p2) * math.cos(l2)
    y = a * math.cos(p1) * math.sin(l1) + b * math.cos(p2) * math.sin(l2)
    z = a * math.sin(p1) + b * math.sin(p2)
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def isa_temperature(altitude_ft: float, deviation: float = 0.0) -> float:
    """ISA static air temperature (degC) at a pressure altitude: 15 degC at sea level, -1.98 degC per 1000 ft,
    constant -56.5 degC above the tropopause (36,089 ft); plus the day's deviation."""
    return max(15.0 - 1.98 * altitude_ft / 1000.0, -56.5) + deviation


def speed_of_sound_kt(temperature_c: float) -> float:
    return KT_PER_SQRT_KELVIN * math.sqrt(temperature_c + 273.15)


def total_air_temperature(static_c: float, mach: float) -> float:
    """TAT (degC) from SAT and Mach, recovery factor 1."""
    return (static_c + 273.15) * (1.0 + 0.2 * mach * mach) - 273.15
