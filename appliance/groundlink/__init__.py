"""The groundlink component."""
