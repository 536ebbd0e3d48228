"""The avionics component."""
