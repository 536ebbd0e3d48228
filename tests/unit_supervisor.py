"""systemd's restart decision for a service unit, from the unit file itself (the keys systemd reads), so a test
can supervise the daemon under units/appliance.service as systemd 252 would (src/core/service.c:
service_shall_restart() and the result of service_sigchld_event()).

Only the keys that decide a restart are read: Restart=, RestartSec=, SuccessExitStatus=,
RestartPreventExitStatus=, RestartForceExitStatus=. An explicit stop (`systemctl stop`: the test's SIGTERM)
never restarts, as in systemd (forbid_restart).
"""

from __future__ import annotations

import configparser
import signal
from dataclasses import dataclass, field
from pathlib import Path

CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})


def _status_set(value: str) -> tuple[frozenset[int], frozenset[int]]:
    """An exit status list ("75 SIGUSR1"): (exit codes, signal numbers)."""
    codes, signals = set(), set()
    for word in value.split():
        if word.isdigit():
            codes.add(int(word))
        else:
            name = word if word.startswith("SIG") else f"SIG{word}"
            signals.add(int(signal.Signals[name]))
    return frozenset(codes), frozenset(signals)


@dataclass(frozen=True)
class RestartPolicy:
    restart: str = "no"
    restart_sec: float = 0.1
    success: tuple[frozenset[int], frozenset[int]] = field(default=(frozenset(), frozenset()))
    prevent: tuple[frozenset[int], frozenset[int]] = field(default=(frozenset(), frozenset()))
    force: tuple[frozenset[int], frozenset[int]] = field(default=(frozenset(), frozenset()))

    @classmethod
    def from_unit(cls, path: Path) -> RestartPolicy:
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text())
        service = parser["Service"]
        return cls(
            restart=service.get("Restart", "no"),
            restart_sec=float(service.get("RestartSec", "0.1").rstrip("s")),
            success=_status_set(service.get("SuccessExitStatus", "")),
            prevent=_status_set(service.get("RestartPreventExitStatus", "")),
            force=_status_set(service.get("RestartForceExitStatus", "")),
        )

    @staticmethod
    def _in(status_set: tuple[frozenset[int], frozenset[int]], returncode: int) -> bool:
        codes, signals = status_set
        return -returncode in signals if returncode < 0 else returncode in codes

    def result(self, returncode: int) -> str:
        """systemd's service result for a main process that ended with Popen's `returncode`."""
        if returncode == 0 or self._in(self.success, returncode):
            return "success"
        if returncode < 0:
            return "success" if signal.Signals(-returncode) in CLEAN_SIGNALS else "signal"
        return "exit-code"

    def shall_restart(self, returncode: int, explicit_stop: bool = False) -> bool:
        if explicit_stop:
            return False
        if self._in(self.prevent, returncode):
            return False
        if self._in(self.force, returncode):
            return True
        result = self.result(returncode)
        return {
            "no": False,
            "always": True,
            "on-success": result == "success",
            "on-failure": result != "success",
            "on-abnormal": result == "signal",
            "on-abort": result == "signal",
            "on-watchdog": False,
        }[self.restart]
