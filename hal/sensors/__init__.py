"""I2C sensors through smbus2 (or any object with smbus2's method names, e.g. hal.sensors.netbus.NetBus)."""
