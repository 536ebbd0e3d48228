"""Hardware abstraction: device codecs and doors (pyserial, gpiozero, smbus2). Imports nothing from appliance/."""
