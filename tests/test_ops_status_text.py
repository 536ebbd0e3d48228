"""`appliance status`'s text for people, from documents as a real daemon answers them (captured from
`appliance run --sim` with the bus silent and the modem out of coverage): no Python values, ISO times,
humane durations, each reason once, everything /health reports as not passing, active alarms."""

from __future__ import annotations

import re
from typing import Any

from appliance.maintenance.status_text import duration, render


def documents() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    health = {
        "status": "warn",
        "checks": {
            "avionics:health": [
                {"componentId": "avionics", "status": "warn", "output": "bus silent: no frame for 2.0 s"}
            ],
            "daemon:loopLag": [{"componentId": "daemon", "status": "warn", "observedValue": 1.4, "observedUnit": "s"}],
            "daemon:ready": [{"componentId": "daemon", "status": "pass", "observedValue": True}],
            "alarms:over_temperature": [{"status": "warn", "output": "board temperature 90 degC >= 85 degC"}],
        },
    }
    status = {
        "version": "0.1.0",
        "daemon": {"ready": True, "stopping": False, "status": "gate, 0 orders pending, modem searching",
                   "uptime_seconds": 980.0, "loop_lag_seconds": 1.4, "watchdog_interval_seconds": None,
                   "watchdog_pings": 0, "watchdog_withheld": None, "reload_error": None},
        "components": [
            {"name": "avionics", "critical": True, "status": "warn", "reason": "bus silent: no frame for 2.0 s"},
            {"name": "modem", "critical": False, "status": "pass", "reason": "modem searching"},
        ],
        "flight": {"phase": "gate", "flight": {}},
        "alarms": [
            {"name": "over_temperature", "reason": "board temperature 90 degC >= 85 degC", "raised": 1796181510.12,
             "condition": True, "acked": False},
            {"name": "storage_corruption", "reason": "segment 3", "raised": 1796181000.5, "condition": False,
             "acked": False},
        ],
        "modem": {"state": "searching", "state_code": 7, "reason": "searching", "registered": False,
                  "roaming": False, "operator": None, "technology": None, "signal_dbm": None, "sim": "READY"},
        "groundlink": {"window": "closed", "reason": "modem not registered (state 7)", "errors": 0,
                       "dead_letters": 1, "last_success": 1796181471.16, "last_error": None},
        "outbox": {"pending": {"booking": 2}, "dead_letters": 1},
        "content": {"active_id": "content-2026-12-02"},
        "storage": {"dir": "/var/lib/appliance", "disk": {"free": 81.1e9},
                    "boot": {"unsafe_shutdowns": 0, "last_shutdown_reason": "orderly stop"}},
    }
    outbox = {
        "pending": {"booking": {"count": 2, "oldest_age_seconds": 250.0, "items": [
            {"id": "a", "attempts": 1, "last_error": "HTTP 503 from booking service"}, {"id": "b", "attempts": 0,
                                                                                        "last_error": None}]}},
        "dead": {"email": {"count": 1, "oldest_age_seconds": 7300.0, "items": [
            {"id": "c", "reason": "HTTP 422: address [redacted] refused", "last_error": None}]}},
    }
    return health, status, outbox


def test_status_text_is_for_people() -> None:
    health, status, outbox = documents()
    out = render(health, status, outbox)
    for python in ("True", "False", "None", "{", "'"):
        assert python not in out, (python, out)
    assert not re.search(r"\b1\d{9}(\.\d+)?\b", out), out  # no epoch seconds
    assert "up 16 min" in out and "980" not in out
    assert "bus silent: bus silent" not in out and "searching (searching)" not in out
    assert "modem: searching, no signal reading" in out
    assert "ground link: window closed: modem not registered (state 7); 0 errors; " in out
    assert "last success 2026-12-02T03:17:51Z" in out
    # every check /health reports as not passing, not only the components
    assert "[WARN] daemon:loopLag: 1.4 s" in out and "[WARN] alarms:over_temperature: board temperature" in out
    assert "daemon:ready" not in out  # it passes
    assert "over_temperature: board temperature 90 degC >= 85 degC (active, raised 2026-12-02T03:18:30Z)" in out
    assert "storage_corruption: segment 3 (cause gone, awaiting acknowledgement" in out
    assert "outbox: 2 pending (booking 2, oldest 4 min); 1 dead letter (email 1, oldest 2 h 1 min)" in out
    assert "latest email: HTTP 422: address [redacted] refused" in out
    assert "booking retrying (1 item): HTTP 503 from booking service" in out
    assert "last shutdown: orderly stop" in out


def test_without_the_outbox_route_the_counts_are_summarised() -> None:
    health, status, _ = documents()
    assert "outbox: pending booking 2; 1 dead letter" in render(health, status, None)
    assert render({}, {}).startswith("appliance ?: unknown (?), not ready")  # another version's documents: no raise


def test_durations() -> None:
    assert [duration(v) for v in (0, 42.9, 60, 980.0, 3600, 3720, 86400, 93600, None)] == [
        "0 s", "42 s", "1 min", "16 min", "1 h", "1 h 2 min", "1 d", "1 d 2 h", "?"]
