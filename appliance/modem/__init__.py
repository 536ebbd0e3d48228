"""The modem component."""
