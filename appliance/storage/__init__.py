"""The storage component."""
