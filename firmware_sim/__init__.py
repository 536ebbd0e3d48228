"""A simulator of every device the appliance talks to, emulated at the wire (bytes on ptys, pin levels,
I2C registers, AT dialogue, the ground station's HTTP), for hardware-in-the-loop tests and `appliance run --sim`.
Imports hal/ codecs at most, never appliance/."""
