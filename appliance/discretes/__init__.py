"""The discretes component."""
