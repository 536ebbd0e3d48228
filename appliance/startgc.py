"""No cyclic garbage collection while the daemon starts; what the start allocated frozen at READY.

Start-up allocates hundreds of thousands of objects (imports, the components, recovery's documents) and frees
almost none, so the collector's passes over them are pure cost on the way to READY=1: 134 passes and 49 ms of
the builders' imports alone, measured on the development machine (issue 17's notes). `pause()` stops
collection before the first heavy import (appliance.cli's `run`); `resume()`, once the start has ended (READY
or a failed start), moves every object alive then into the permanent generation (`gc.freeze`: the same
objects are never walked again, so later collections are shorter too) and collects again from there. The
cycles a start left behind stay, once; their size is bounded by one start.

Only a pause this module made is resumed: a daemon run inside another program (the tests) is left alone.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def paused() -> bool:
    return _paused
