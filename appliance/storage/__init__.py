"""Crash-safe storage (the file helpers it builds on are in appliance/fs/).

- `framing`   journal record and segment framing (8-byte aligned, CRC-32C) and the torn-vs-corrupt scan
- `journal`   segments, group commit on a writer thread, rotation, checkpoints, freeze for power fail
- `recovery`  snapshot + segment reading at boot: torn tails truncated, corruption reported and quarantined
- `store`     a keyspace of JSON documents on the journal (transactions, rollback of refused writes)
- `tinystore` TinyDB on the store: JournaledDB (writes are journaled deltas, never JSON rewritten in place)
- `outbox`    the Outbox port on a TinyDB table
- `boot`      BootInfo: boot id, clean-shutdown marker, unsafe-shutdown counter
- `clock`     TimeKeeper: persisted time floor, RTC sanity, avionics / network anchors, record stamps
- `check`     read-only check of the state directory for `appliance fsck`
- `component` the Storage component (provides the state directory, outbox, boot info, time anchor, a flushable)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance import ports
from appliance.core.spec import ComponentSpec, deferred
from appliance.storage.config import StorageConfig

if TYPE_CHECKING:
    from aiohttp import web


def _outbox_section(component: Any) -> Any:
    outbox = component.outbox
    return {"pending": outbox.counts(), "dead_letters": outbox.dead_count()}


def _routes(component: Any) -> Sequence[web.RouteDef]:
    from appliance.storage.outbox_route import routes

    return routes(component.outbox, component.clock.wall)


COMPONENT = ComponentSpec(
    name="storage",
    config=StorageConfig,
    build=deferred("appliance.storage.component:build"),
    provides=(ports.STATE_DIR, ports.OUTBOX, ports.BOOT, ports.TIME_ANCHOR, ports.TRUSTED_TIME,
              ports.FLUSHABLES),
    uses=(ports.FLIGHT,),  # avionics UTC anchors the clock when there is a flight view
    critical=True,
    status={"storage": deferred("appliance.storage.component:status_section"), "outbox": _outbox_section},
    routes=_routes,
)
