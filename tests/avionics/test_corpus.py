"""The recorded-trace corpus (tests/data/avionics), replayed through the reader's path and held to its goldens,
like gpsd's regression logs. Regenerate with `make avionics-corpus` (see tests/data/avionics/make_corpus.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from appliance.avionics.capture_cli import replay_lines
from tests.conftest import python_module, subprocess_env

DATA = Path(__file__).resolve().parents[1] / "data" / "avionics"
NAMES = ("normal", "noisy", "unplug")


def _golden(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / f"{name}.golden.jsonl").read_text().splitlines()]


def _snapshots(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["snapshot"] for line in lines if "snapshot" in line]


@pytest.mark.parametrize("name", NAMES)
def test_replay_matches_golden(name: str) -> None:
    assert replay_lines(DATA / f"{name}.cap") == _golden(name)


def test_normal_segment_takes_off_and_climbs() -> None:
    lines = _golden("normal")
    summary = lines[-1]["summary"]
    assert summary["crc_errors"] == summary["parity_errors"] == summary["resyncs"] == 0
    phases = [s["phase"] for s in _snapshots(lines)]
    assert "takeoff" in phases and phases[-1] == "climb"
    final = _snapshots(lines)[-1]
    assert all(p["status"] == "normal" for p in final["parameters"].values())
    assert final["flight"] == {"flight_id": "IBE3101", "flight_number": "IB3101", "origin": "LEBL",
                               "destination": "LEMD"}


def test_noisy_line_is_counted_and_skipped() -> None:
    lines = _golden("noisy")
    summary = lines[-1]["summary"]
    assert summary["crc_errors"] > 50 and summary["parity_errors"] > 50 and summary["resyncs"] > 50
    for snapshot in _snapshots(lines):  # the garbage never shows up as a value
        assert snapshot["parameters"]["altitude"]["value"] in (35000.0, None)
        assert snapshot["phase"] in ("unknown", "cruise")
    assert _snapshots(lines)[-1]["parameters"]["altitude"]["status"] == "normal"


def test_unplug_shows_a_silence_then_recovers() -> None:
    lines = _golden("unplug")
    events = [line for line in lines if line.get("event") == "silent"]
    assert len(events) == 1 and 2.0 < events[0]["seconds"] < 4.5
    statuses = [s["parameters"]["altitude"]["status"] for s in _snapshots(lines)]
    assert "stale" in statuses and statuses[-1] == "normal"


def test_replay_and_decode_commands_agree() -> None:
    env = subprocess_env()
    replayed = subprocess.run(python_module("appliance", "replay", str(DATA / "noisy.cap"), "--speed", "0"),
                              capture_output=True, text=True, env=env, timeout=60, check=True)
    assert [json.loads(line) for line in replayed.stdout.splitlines()] == _golden("noisy")
    decoded = subprocess.run(python_module("appliance", "decode", "--stats", str(DATA / "noisy.cap")),
                             capture_output=True, text=True, env=env, timeout=60, check=True)
    stats = json.loads(decoded.stdout)
    summary = _golden("noisy")[-1]["summary"]
    for key in ("frames", "words", "parity_errors", "crc_errors", "resyncs"):
        assert stats[key] == summary[key]


def test_replay_of_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = subprocess.run(python_module("appliance", "replay", str(tmp_path / "nothing.cap")),
                            capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert result.returncode == 2 and "cannot read" in result.stderr
