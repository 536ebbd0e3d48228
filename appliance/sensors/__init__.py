"""The sensors component."""
