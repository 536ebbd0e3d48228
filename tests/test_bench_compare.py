"""bench-compare: a figure is a regression only beyond the threshold AND the noise of its rounds."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bench import Figure, Rounds, alternate
from tests.bench.compare import main


def _run(path: Path, ours: list[float], value: float) -> Path:
    path.mkdir()
    figures = [
        Figure.from_rounds("appends", "/s", Rounds(ours, [10.0] * len(ours)), reference_name="ref", goal=""),
        Figure("boot", value, "s", higher_is_better=False),
    ]
    (path / "storage.json").write_text(json.dumps([f.as_dict() for f in figures]))
    return path


def test_alternate_takes_turns_abba() -> None:
    order: list[str] = []
    rounds = alternate(lambda: order.append("a") or 2.0, lambda: order.append("b") or 1.0, rounds=4)
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert rounds.ratios == [2.0] * 4


def test_regression_beyond_the_noise_is_flagged(tmp_path: Path) -> None:
    old = _run(tmp_path / "old", [10, 11, 12, 10, 11], 1.0)
    worse = _run(tmp_path / "worse", [6, 7, 6, 7, 6], 1.0)
    assert main([str(old), str(worse)]) == 1
    assert main([str(worse), str(old)]) == 0  # better is not a regression


def test_overlapping_ranges_and_small_changes_are_noise(tmp_path: Path) -> None:
    old = _run(tmp_path / "old", [8, 12, 10, 9, 13], 1.0)
    noisy = _run(tmp_path / "noisy", [7, 11, 8.5, 8, 12], 1.05)  # median down 15 %, but within old's range
    assert main([str(old), str(noisy)]) == 0
    slower = _run(tmp_path / "slower", [8, 12, 10, 9, 13], 1.5)  # no rounds: the threshold alone judges
    assert main([str(old), str(slower)]) == 1


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), str(tmp_path / "empty")]) == 2
