"""The appliance: the in-flight entertainment daemon of an airliner's cabin server."""

__version__ = "0.1.0"
