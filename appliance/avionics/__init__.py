"""The avionics component: the ARINC 429 adapter read-only, turned into a live flight state.

reader.py (the component: port thread, reopen, silence, health) -> core.py (per read: the codec's bulk stream,
counters, FlightState.apply) -> state.py (FlightState, the FlightView of appliance/ports.py) with phase.py (the
derived flight phase). capture_cli.py records and replays the wire; decode_cli.py prints decoded words.
"""
