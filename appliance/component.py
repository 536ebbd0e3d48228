"""The lifecycle every component shares, and the health check it reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class Status(StrEnum):
    """Health status, as in draft-inadarei-api-health-check (application/health+json)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Check:
    status: Status
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def passing(cls, reason: str = "", /, **details: Any) -> Check:
        return cls(Status.PASS, reason, details)

    @classmethod
    def warning(cls, reason: str, /, **details: Any) -> Check:
        return cls(Status.WARN, reason, details)

    @classmethod
    def failing(cls, reason: str, /, **details: Any) -> Check:
        return cls(Status.FAIL, reason, details)


def worst(statuses: list[Status]) -> Status:
    """The worst of several statuses (pass when there are none)."""
    return max(statuses, key=_RANK.__getitem__, default=Status.PASS)


@runtime_checkable
class Component(Protocol):
    """What the composition root starts, stops and asks for health.

    `critical` components must stay alive for the systemd watchdog to keep being fed. A component may define an
    optional `alive() -> bool` or `alive: bool` property (looked up with getattr, not part of this protocol)
    to say so more precisely than "health is not fail" (e.g. "my reader task is still running", while the device
    it reads is absent and being retried: a missing device must not restart the daemon); and an optional
    `reload(new_config)` (sync or async) to take a new config on SIGHUP: components without it keep running with
    the config they were built with.
    """

    name: str
    critical: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> Check: ...
