"""The maintenance component."""
