"""`build(ctx)`: the ground link (window, outbox delivery, telemetry, content sync, clock check)."""

from __future__ import annotations

from pathlib import Path

from appliance.daemon import Context
from appliance.groundlink.link import GroundLink


def build(ctx: Context) -> GroundLink:
    link = GroundLink(
        ctx.config.groundlink,
        ctx.clock,
        ctx.metrics,
        state_dir=Path(ctx.config.storage.dir),
        flight=ctx.flight,
        modem=ctx.modem,
        outbox=ctx.outbox,
        time_anchor=ctx.time_anchor,
        content=ctx.content_updater,
        components=lambda: list(ctx.components),
        boot=ctx.boot,
    )
    ctx.groundlink = link
    ctx.schedule = link.schedule
    return link
