"""The whole chain without a browser: the simulated board overheats -> the over_temperature alarm (discretes
and sensors) -> the portal stops new video sessions and says why."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.xdist_group("portal-sim")


def _status(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_overheating_board_stops_new_video_sessions(daemon: tuple[str, str]) -> None:
    base, control = daemon
    master = base + "/content/video/coast/master.m3u8"
    assert _status(master)[0] == 200
    request = urllib.request.Request(f"{control}/sensors/board_temperature", data=b'{"value": 95.0}', method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()
    deadline = time.monotonic() + 15
    status, body = _status(master)
    while status != 503 and time.monotonic() < deadline:
        time.sleep(0.3)
        status, body = _status(master)
    assert status == 503 and "over-temperature" in str(body["error"])
    with urllib.request.urlopen(base + "/api/v1/catalog", timeout=5) as r:
        assert json.loads(r.read())["video_available"] is False
