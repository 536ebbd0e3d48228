"""The flight profile every simulated device reads: scenarios on real routes (airportsdata), great-circle
track, ISA temperatures, attitude, wind, UTC; `FlightWorld` implements firmware_sim.device.World."""

from firmware_sim.flight.world import FlightWorld

__all__ = ["FlightWorld"]
