"""The update component and the layout's decisions, built alone (appliance.core.testing.build_alone) on a state
directory and releases in tmp (release directories with their manifest and `.complete`; the process tests run
real venvs): the trial's commit and rollback, the start counter, state formats, the safe moment, the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from appliance import ports
from appliance.component import Check
from appliance.core.context import Context
from appliance.core.spec import ASSEMBLY, Assembly, Installed
from appliance.core.testing import build_alone
from appliance.fs import formats
from appliance.lifecycle import Lifecycle
from appliance.portal.metrics import PortalMetrics
from appliance.timebase import ManualClock
from appliance.update import COMPONENT
from appliance.update.component import EX_SWITCH, UpdateComponent
from appliance.update.layout import COMPLETE, ActivationRefused, Layout
from appliance.update.manifest import MANIFEST, Release, Wheel
from tests.conftest import subprocess_env


@dataclass
class StateDir:
    path: Path


@dataclass
class Flight:
    on_ground: bool | None = True


class Sick:
    name = "sick"
    critical = True

    def __init__(self) -> None:
        self.check = Check.passing()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> Check:
        return self.check


def release(root: Path, version: str, state_formats: dict[str, Any] | None = None) -> None:
    where = root / "releases" / version
    where.mkdir(parents=True)
    manifest = Release(version, "3.11", f"appliance=={version}", state_formats or formats.declared(),
                       (Wheel("appliance-0-py3-none-any.whl", 1, "0" * 64),))
    (where / MANIFEST).write_bytes(manifest.to_json())
    (where / COMPLETE).write_text(version)


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    release(tmp_path / "opt", "1.0")
    layout = Layout(tmp_path / "opt", tmp_path / "state", max_starts=2)
    layout.mark_installed()
    return layout


def component(layout: Layout, version: str | None, *, assembly: Assembly | None = None,
              flight: Flight | None = None, **table: Any) -> tuple[UpdateComponent, Context, list[str]]:
    stops: list[str] = []
    ctx = Context(clock=ManualClock(), lifecycle=Lifecycle(), request_stop=stops.append)
    services: dict[Any, Any] = {ports.STATE_DIR: StateDir(layout.state_dir)}
    if assembly is not None:
        services[ASSEMBLY] = assembly
    if flight is not None:
        services[ports.FLIGHT] = flight
    built = build_alone(COMPONENT, {"root": str(layout.root), "trial_seconds": 30, "max_starts": 2,
                                    "quiet_seconds": 10, **table}, services=services, ctx=ctx)
    built.version = version
    return built, ctx, stops


def gauge(ctx: Context) -> float | None:
    return ctx.metrics.registry.get_sample_value("appliance_update_state")


def test_a_trial_ready_and_healthy_for_trial_seconds_is_committed(layout: Layout) -> None:
    release(layout.root, "2.0")
    layout.activate("2.0")
    assert layout.preflight() == "trial 2.0: start 1 of 2"
    sick = Sick()
    lifecycle = Lifecycle()
    assembly = Assembly(lifecycle, [Installed(COMPONENT, sick)])  # type: ignore[arg-type]
    update, ctx, stops = component(layout, "2.0", assembly=assembly)
    update.lifecycle = lifecycle
    update.on_trial = True
    update._tick()
    assert gauge(ctx) is not None and layout.link("committed") == "1.0"  # not ready yet: nothing happens
    lifecycle.ready = True
    update._tick()
    ctx.clock.advance(29)  # type: ignore[attr-defined]
    update._tick()
    assert layout.link("committed") == "1.0"
    ctx.clock.advance(1)  # type: ignore[attr-defined]
    update._tick()
    update._refresh_gauge()
    assert layout.link("committed") == "2.0" and layout.link("previous") == "1.0" and not stops
    assert gauge(ctx) == 3 and update.status()["state"] == "committed"


def test_a_health_fail_during_the_trial_rolls_back_refuses_and_restarts(layout: Layout) -> None:
    release(layout.root, "2.0")
    layout.activate("2.0")
    layout.preflight()
    sick = Sick()
    lifecycle = Lifecycle(ready=True)
    update, ctx, stops = component(layout, "2.0", assembly=Assembly(lifecycle, [Installed(COMPONENT, sick)]))  # type: ignore[arg-type]
    update.lifecycle = lifecycle
    update.on_trial = True
    update._tick()
    sick.check = Check.failing("a bug")
    update._tick()
    update._refresh_gauge()
    assert layout.link("current") == layout.link("committed") == "1.0"
    assert "health fail during the trial: sick: a bug" in layout.refused()["2.0"]
    assert stops and lifecycle.exit_status == EX_SWITCH and gauge(ctx) == 4
    assert update.health().status.value == "warn"


def test_a_release_on_trial_that_cannot_read_the_state_rolls_back_at_start(layout: Layout) -> None:
    release(layout.root, "2.0")
    layout.activate("2.0")
    layout.preflight()
    formats.write_marker(layout.state_dir, {"journal": 9, "snapshot": 1, "state_files": 1})
    update, ctx, stops = component(layout, "2.0")

    async def run() -> None:
        await update.start()
        await update.stop()

    asyncio.run(run())
    assert update.health().status.value == "fail" and "cannot read journal format 9" in update.health().reason
    assert layout.link("current") == "1.0" and "cannot read" in layout.refused()["2.0"]
    assert stops and ctx.lifecycle.exit_status == EX_SWITCH


def test_the_preflight_rolls_back_a_trial_that_never_commits(layout: Layout) -> None:
    release(layout.root, "2.0")
    layout.activate("2.0")
    assert layout.preflight().startswith("trial 2.0: start 1")
    assert layout.preflight().startswith("trial 2.0: start 2")
    assert layout.preflight() == "rolled back to 1.0: 2.0 did not commit in 2 starts"
    assert layout.link("current") == "1.0" and "crash loop" in layout.refused()["2.0"]
    with pytest.raises(ActivationRefused):
        layout.activate("2.0")  # refused for later windows


def test_a_release_whose_state_the_rollback_could_not_read_is_refused_before_its_trial(layout: Layout) -> None:
    release(layout.root, "2.0", {name: {"reads": [1, 2], "writes": [2]} for name in formats.READS})
    layout.set_pending("2.0")
    assert "2.0 not activated" in layout.preflight()
    assert layout.link("current") == "1.0" and layout.pending() is None and "state formats" in layout.refused()["2.0"]
    # one that can still write the old format goes on trial writing it, and its newest once committed
    release(layout.root, "3.0", {name: {"reads": [1, 2], "writes": [1, 2]} for name in formats.READS})
    assert layout.activate("3.0").writes == {name: 1 for name in formats.READS}
    layout.preflight()
    layout.commit()
    assert layout.state_formats() == {name: 2 for name in formats.READS}
    # and the previous release cannot read that: the engineer's rollback says there is nothing to go back to
    assert layout.rollback() is None


def test_a_pending_release_goes_on_trial_only_on_the_ground_with_no_passenger_stream(layout: Layout) -> None:
    release(layout.root, "2.0")
    layout.set_pending("2.0")
    flight = Flight(on_ground=False)
    update, ctx, stops = component(layout, "1.0", flight=flight)
    update._tick()
    ctx.clock.advance(60)  # type: ignore[attr-defined]
    update._tick()
    assert layout.link("current") == "1.0" and not stops  # in the air
    flight.on_ground = True
    ctx.metrics.of(PortalMetrics).sse_clients.set(3)
    update._tick()
    ctx.clock.advance(60)  # type: ignore[attr-defined]
    ctx.metrics.of(PortalMetrics).sse_clients.set(0)
    update._tick()
    assert layout.link("current") == "1.0" and not stops  # a passenger was streaming until now
    ctx.clock.advance(10)  # type: ignore[attr-defined]
    update._tick()
    assert layout.link("current") == "2.0" and stops == ["release activate: 2.0"]
    assert ctx.lifecycle.exit_status == EX_SWITCH and layout.trial() is not None


def test_status_and_rollback_on_the_command_line(layout: Layout, tmp_path: Path) -> None:
    config = tmp_path / "appliance.toml"
    config.write_text(f'[update]\nroot = "{layout.root}"\nmax_starts = 2\n[storage]\ndir = "{layout.state_dir}"\n')

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "appliance", "release", *args, "--config", str(config)],
                              capture_output=True, text=True, env=subprocess_env(), timeout=60, check=False)

    assert cli("rollback").returncode == 1  # nothing to roll back to
    release(layout.root, "2.0")
    layout.activate("2.0")
    done = cli("status", "--json")
    assert done.returncode == 0
    status = json.loads(done.stdout)
    assert status["current"] == "2.0" and status["committed"] == "1.0" and status["trial"]["version"] == "2.0"
    text = cli("status").stdout
    assert "trial: 2.0 (start 0 of 2)" in text and "committed: 1.0" in text
    assert cli("rollback").returncode == 0
    assert layout.link("current") == "1.0" and "2.0" in cli("status").stdout.split("refused: ")[1]
    bad = tmp_path / "bad.toml"
    bad.write_text('[update]\ntrial_seconds = "long"\n')
    done = subprocess.run([sys.executable, "-m", "appliance", "release", "status", "--config", str(bad)],
                          capture_output=True, text=True, env=subprocess_env(), timeout=60, check=False)
    assert done.returncode == 78 and "trial_seconds" in done.stderr
