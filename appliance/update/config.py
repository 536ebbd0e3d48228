"""[update]: where releases live and how a new one proves itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UpdateConfig:
    """[update]"""

    root: str = "/opt/appliance"  # releases/<version>/, current, committed, previous
    trial_seconds: float = 300.0  # READY and health out of fail this long: the release on trial is committed
    max_starts: int = 3  # starts of a release on trial without a commit before it is rolled back
    python: str = "/usr/bin/python3"  # the aircraft's Python, that release venvs are made with
    prefix: str = "releases"  # the signed targets' directory of releases
    activate: str = "ground"  # "ground": on the ground with no passenger stream for quiet_seconds; "boot": at boot
    quiet_seconds: float = 120.0
    check_seconds: float = 1.0  # how often the trial and the safe moment are checked

    def validate(self) -> None:
        if self.trial_seconds < 0:
            raise ValueError("trial_seconds", "must be 0 or more")
        if self.max_starts < 1:
            raise ValueError("max_starts", "must be at least 1")
        if self.activate not in ("ground", "boot"):
            raise ValueError("activate", 'must be "ground" or "boot"')
        if not self.root.startswith("/"):
            raise ValueError("root", "must be an absolute path")
        if self.check_seconds <= 0:
            raise ValueError("check_seconds", "must be more than 0")
