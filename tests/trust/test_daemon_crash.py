"""A SIGKILL storm through the whole daemon (its own process, as systemd starts it) while its ground link
refreshes the TUF metadata from the simulator's station (its own process too): the metadata trickles in, so
the kills land mid-refresh; new editions are published between kills. After the storm the daemon starts,
the metadata in use verifies offline from the pinned root, and the current edition is installed through TUF."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from appliance.trust.client import _load_committed
from appliance.trust.store import GenerationStore
from tests.hil_harness import Aircraft, SimProcess

KILLS = 5


def _verified(state: Path, root: Path) -> dict[str, int] | None:
    current = GenerationStore(state / "trust").current()
    return None if current is None else _load_committed(current, root.read_bytes()).versions()


def _half_written(state: Path) -> list[str]:
    """Generations a killed refresh left behind (never used; removed at the next refresh)."""
    current = GenerationStore(state / "trust").current()
    directory = state / "trust"
    gens = sorted(p.name for p in directory.glob("gen-*")) if directory.is_dir() else []
    return [g for g in gens if current is None or g != current.name]


@pytest.mark.slow
def test_sigkill_storm_during_refresh_through_the_daemon(tmp_path: Path) -> None:
    rng = random.Random(1313)
    sim = SimProcess(scenario="gate")
    aircraft: Aircraft | None = None
    try:
        root = Path(sim.endpoints["trust.root"])
        assert sim.post("/modem", {"coverage": "home"}, method="PUT")[0] == 200
        aircraft = Aircraft(tmp_path, sim, groundlink={"poll_seconds": 0.05, "full_cycle_seconds": 0.5},
                            trust={"min_rate_bps": 0.0, "read_timeout_s": 10.0})
        # every TUF file trickles at 3 kB/s: a refresh takes seconds, so the kills land inside one
        assert sim.post("/ground/tuf", {"attack": "slow_retrieval", "rate": 3000}, method="PUT")[0] == 200
        seen: list[dict[str, int]] = []
        mid_refresh = 0
        for kill in range(KILLS):
            if kill % 2:
                assert sim.post("/ground/content/publish", {})[0] in (200, 201)
            aircraft.start()
            aircraft.wait_notify("READY", "1", 60)
            time.sleep(rng.uniform(0.3, 2.5))
            aircraft.cut()
            mid_refresh += bool(_half_written(aircraft.state))
            versions = _verified(aircraft.state, root)  # raises if anything in use is not fully verified
            if versions is not None:
                assert not seen or all(versions[r] >= seen[-1][r] for r in versions), (seen, versions)
                seen.append(versions)
        assert mid_refresh >= 2, f"only {mid_refresh} of {KILLS} kills landed inside a refresh"
        assert sim.post("/ground/tuf", {"attack": None}, method="PUT")[0] == 200
        aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        _, state = sim.get("/state")
        current = f"content-{state['ground']['editions'][-1]}"
        status = aircraft.wait_status(
            lambda s: (s.get("content") or {}).get("active_id") == current
            and ((s.get("trust") or {}).get("last_refresh") or {}).get("ok") is True,
            90, f"{current} installed through TUF after the storm")
        assert status["trust"]["refusing"] is None, status["trust"]
        versions = _verified(aircraft.state, root)
        assert versions is not None and (not seen or versions["targets"] >= seen[-1]["targets"])
        assert _half_written(aircraft.state) == []  # the leftovers of the storm are gone
        assert aircraft.terminate() == 0
    finally:
        if aircraft is not None:
            aircraft.close()
        sim.stop()
