"""Processes, seen from outside: whether a pid is still running (a lock's or a record's owner)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while a process with `pid` exists (also one we may not signal: EPERM means it is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
