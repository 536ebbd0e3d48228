"""TUF's top-level roles (a module of its own, so the CLI names them without importing the crypto)."""

ROLES = ("root", "targets", "snapshot", "timestamp")
