"""The 3G modem: state over the AT port (ModemManager's states) and its recovery ladder."""
