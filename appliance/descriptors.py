"""The descriptor budget of both listeners: RLIMIT_NOFILE must cover every passenger connection (and the bundle
file it may be sent), the maintenance listener's reserve and the daemon's own files.

Failure semantics: never raises; a limit that cannot be raised clamps the passenger cap with a WARNING.
"""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

log = logging.getLogger("appliance.http")

# the daemon's own descriptors besides its listeners' connections: journal, state files, serial ports, GPIO
# chips, I2C, the modem, ground-link connections, the listening sockets, logs, Python's own
OWN_FILES = 512


@dataclass(frozen=True)
class DescriptorPlan:
    """What RLIMIT_NOFILE allows: `needed` for the configured caps, `limit` the soft limit in effect,
    `portal_connections` the passenger cap that fits (the configured one unless clamped)."""

    needed: int
    limit: int
    portal_connections: int

    @property
    def clamped(self) -> bool:
        return self.limit < self.needed


def descriptors_needed(portal_connections: int, maintenance_connections: int, own: int = OWN_FILES) -> int:
    """Each passenger connection may hold a second descriptor (the bundle file it is being sent); the
    maintenance listener's connections hold only their socket."""
    return 2 * portal_connections + maintenance_connections + own


def plan_descriptors(portal_connections: int, maintenance_connections: int, own: int = OWN_FILES) -> DescriptorPlan:
    """Make RLIMIT_NOFILE cover the caps: raise the soft limit (up to the hard one) when it is below what they
    need. When even the hard limit is short, the passenger cap is clamped to what fits (the maintenance
    listener's reserve and the daemon's own files first) and a WARNING says so; never fails."""
    needed = descriptors_needed(portal_connections, maintenance_connections, own)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            log.info("descriptor limit raised from %d to %d (the listeners' caps need %d)", soft, target, needed)
            soft = target
        except (ValueError, OSError) as error:
            log.warning("descriptor limit %d could not be raised: %s", soft, error)
    limit = needed if soft == resource.RLIM_INFINITY else int(soft)
    if limit >= needed:
        return DescriptorPlan(needed, limit, portal_connections)
    fits = max(16, (limit - maintenance_connections - own) // 2)
    log.warning("descriptor limit %d is below the %d that portal.max_connections = %d needs: passenger "
                "connections capped at %d (raise LimitNOFILE= or lower portal.max_connections)",
                limit, needed, portal_connections, fits)
    return DescriptorPlan(needed, limit, min(fits, portal_connections))
