"""What the composition root shares with every component: time, metrics, alarms, the systemd notifier, the
daemon's lifecycle and the services registry. Nothing else is global; each component sees it through its own
`Setup` (appliance/core/spec.py), which adds only that component's config section and declared services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from appliance.alarms import Alarms
from appliance.core.services import Services
from appliance.lifecycle import Lifecycle
from appliance.metrics import Metrics
from appliance.systemd import Notifier
from appliance.timebase import Clock, SystemClock


@dataclass
class Context:
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    alarms: Alarms | None = None
    notifier: Notifier = field(default_factory=Notifier)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    services: Services = field(default_factory=Services)
    # Where the built-in simulator put each device (`appliance run --sim`), else empty.
    sim_endpoints: dict[str, Any] = field(default_factory=dict)
    # The config file's name for errors found after parsing (e.g. a pin factory that cannot be loaded).
    config_source: str = "config"
    # Asks the daemon to stop in order (e.g. the power-fail path when power does not come back); the Daemon
    # fills it in. `request_stop(reason)`.
    request_stop: Callable[[str], None] | None = None
    # File descriptors each component reserved for itself (Setup.reserve_descriptors), for the portal's budget
    descriptor_reserve: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.alarms is None:
            self.alarms = Alarms(self.clock, self.metrics)
