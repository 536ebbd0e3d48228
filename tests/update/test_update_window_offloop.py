"""The window's whole-file work (hashing a wheel, copying one an installed release already has) runs off the
event loop: on the aircraft's disk a release's wheels are tens of MB, and under the image test's emulated CPU
that work on the loop starved the watchdog past WatchdogSec (systemd killed the daemon mid-update, every time).

A real ground (the TUF repository served by aiohttp), real releases 1.1.0 then 1.2.0 sharing pip's wheel, the
real WindowRunner; `_verify` and `reuse` are wrapped to record which thread each call ran on, and call through."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

import appliance.update.fetch as fetch_module
import appliance.update.window as window_module
from tests.update.support import probe_release
from tests.update.test_update_window import setup, window


def test_hashing_and_copying_wheels_run_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = probe_release(tmp_path / "one", "1.1.0")
    ground, layout, config = setup(tmp_path, first)
    result, _ = asyncio.run(window(ground, config, layout, 0))
    assert result["status"] == "installed", result
    second = probe_release(tmp_path / "two", "1.2.0")
    ground.publish(second, prefix="releases")
    calls: list[tuple[str, bool]] = []

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def spy(name: str, real: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            calls.append((name, on_loop() or threading.current_thread() is threading.main_thread()))
            return real(*args)
        return wrapper

    monkeypatch.setattr(fetch_module, "_verify", spy("verify", fetch_module._verify))
    monkeypatch.setattr(window_module, "reuse", spy("reuse", window_module.reuse))
    result, sent = asyncio.run(window(ground, config, layout, 0))
    assert result["status"] == "installed" and result["version"] == "1.2.0", result
    assert int(result["bytes_local"]) > 0, result  # pip's wheel was copied from 1.1.0, not fetched
    assert sent < sum(p.stat().st_size for p in second.rglob("*") if p.is_file())
    assert {name for name, _ in calls} == {"verify", "reuse"}, calls
    assert [call for call in calls if call[1]] == [], f"on the event loop's thread: {calls}"
