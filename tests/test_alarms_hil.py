"""What an engineer sees of alarms and faults, on the whole daemon: the simulator and the daemon as their own
processes (the daemon started as systemd starts it: this test is its notify socket), a real Prometheus server
scraping the maintenance listener with the bearer token from before the daemon's first answer.

- over-temperature (the board sensor, then the GPIO_OVERTEMPSIG discrete alone): health warns, /api/v1/status,
  STATUS= and `appliance status` say so, the log says raised and cleared, and load shedding ends by itself
  once the board has cooled below the hysteresis (no acknowledgement);
- avionics faults from the simulator's knobs (CRC bursts, a failed altitude label, a silent label 360):
  health says why, one log line per episode start and end, per-label status in /api/v1/status;
- every contract series with a known label set has a sample in Prometheus's first scrape.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, subprocess_env
from tests.hil_harness import Aircraft, SimProcess
from tests.ops_support import NotifyListener, http

pytestmark = [pytest.mark.xdist_group("alarms-hil"), pytest.mark.timeout(240)]

PROMETHEUS = "/usr/bin/prometheus"


class Prometheus:
    """Debian's Prometheus with its own storage and a free port, scraping one target every second."""

    def __init__(self, tmp: Path, target: str, token_file: Path) -> None:
        self.port = free_port()
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
            "scrape_configs:\n  - job_name: appliance\n"
            f"    authorization:\n      type: Bearer\n      credentials_file: {token_file}\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = (tmp / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"

    def api(self, path: str, **query: str) -> Any:
        from urllib.parse import urlencode

        status, _, body = http("GET", f"{self.base}{path}?{urlencode(query)}", timeout=10)
        assert status == 200, body[:500]
        document = json.loads(body)
        assert document["status"] == "success", document
        return document["data"]

    def self_metric(self, name: str) -> float:
        status, _, body = http("GET", f"{self.base}/metrics", timeout=10)
        assert status == 200
        return sum(float(line.split()[-1]) for line in body.decode().splitlines()
                   if line.startswith(name + " ") or line.startswith(name + "{"))  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Rig:
    def __init__(self, sim: SimProcess, aircraft: Aircraft, notify: NotifyListener, prometheus: Prometheus) -> None:
        self.sim, self.aircraft, self.notify, self.prometheus = sim, aircraft, notify, prometheus

    def put(self, path: str, body: dict[str, Any]) -> None:
        status, answer = self.sim.post(path, body, method="PUT")
        assert status == 200, answer

    def health(self) -> dict[str, Any]:
        _, body = self.aircraft.get("/health")
        return body  # type: ignore[no-any-return]

    def until(self, what: str, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.aircraft.check_running()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.aircraft.tail(30)}")
            time.sleep(0.2)

    def log_lines(self, pattern: str, since: int = 0) -> list[str]:
        """The daemon's log lines matching `pattern`, after the first `since` lines (a `mark()`)."""
        lines = self.aircraft.log.read_text(errors="replace").splitlines()[since:]
        return [line for line in lines if re.search(pattern, line)]

    def mark(self) -> int:
        return len(self.aircraft.log.read_text(errors="replace").splitlines())

    def statuses(self) -> list[str]:
        return [m.fields["STATUS"] for m in self.notify.snapshot() if m.has("STATUS")]

    def component(self, name: str) -> dict[str, Any]:
        _, status = self.aircraft.get("/api/v1/status")
        return next(c for c in status["components"] if c["name"] == name)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if not Path(PROMETHEUS).exists():
        pytest.skip("needs Debian's prometheus package")
    tmp = tmp_path_factory.mktemp("alarms-hil")
    sim = SimProcess("gate", 1.0)
    aircraft = prometheus = None
    try:
        aircraft = Aircraft(tmp, sim, sensors={"poll_interval": 0.2})
        # scraping before the daemon answers: the first scrape that succeeds is the daemon's first
        prometheus = Prometheus(tmp, f"127.0.0.1:{aircraft.maintenance_port}", tmp / "maintenance.token")
        notify = aircraft.start()
        aircraft.wait_notify("READY", "1", 60)
        yield Rig(sim, aircraft, notify, prometheus)
    finally:
        if aircraft is not None:
            aircraft.close()
        if prometheus is not None:
            prometheus.stop()
        sim.stop()


def _alarm_entries(health: dict[str, Any]) -> list[dict[str, Any]]:
    return health["checks"]["alarms:active"]  # type: ignore[no-any-return]


def test_over_temperature_is_seen_logged_and_ends_by_itself(rig: Rig) -> None:
    assert [e["status"] for e in _alarm_entries(rig.health())] == ["pass"]
    rig.put("/sensors/board_temperature", {"value": 90.0})
    # the comparator's two lines may raise the alarm before the sensor's next poll adds its reading to the reason
    health = rig.until("health to warn of the alarm with the reading", lambda: (h := rig.health())["status"] != "pass"
                       and _alarm_entries(h)[0]["status"] == "warn" and "90" in _alarm_entries(h)[0]["output"]
                       and h)  # fmt: skip
    [entry] = _alarm_entries(health)
    assert entry["componentId"] == "over_temperature" and "90" in entry["output"]
    _, status = rig.aircraft.get("/api/v1/status")
    [alarm] = status["alarms"]
    assert alarm["active"] and alarm["name"] == "over_temperature" and status["status"] != "pass"
    rig.until("STATUS= to name the alarm", lambda: any("ALARM over_temperature" in s for s in rig.statuses()))
    cli = subprocess.run([sys.executable, "-m", "appliance", "status", "--config", str(rig.aircraft.config_path)],
                         capture_output=True, text=True, env=subprocess_env(), timeout=30)  # fmt: skip
    assert cli.returncode == 1 and "over_temperature" in cli.stdout, cli.stdout + cli.stderr
    assert len(rig.log_lines(r"alarm over_temperature raised")) == 1
    portal = f"http://127.0.0.1:{rig.aircraft.portal_port}/api/v1/catalog"
    assert json.loads(http("GET", portal)[2])["video_available"] is False

    rig.put("/sensors/board_temperature", {"value": 70.0})  # below limit - hysteresis: nobody acknowledges
    rig.until("the alarm to clear by itself", lambda: _alarm_entries(rig.health())[0]["status"] == "pass")
    rig.until("video to come back", lambda: json.loads(http("GET", portal)[2])["video_available"] is True)
    assert len(rig.log_lines(r"alarm over_temperature cleared after \d+ s")) == 1
    _, status = rig.aircraft.get("/api/v1/status")
    [alarm] = status["alarms"]
    assert alarm["active"] is False and alarm["latched"] is True and alarm["cleared"]  # the record waits

    rig.put("/discretes/GPIO_OVERTEMPSIG", {"value": True})  # the discrete alone raises it too
    health = rig.until("the discrete to raise it", lambda: _alarm_entries(h := rig.health())[0]["status"] == "warn"
                       and h)  # fmt: skip
    assert "GPIO_OVERTEMPSIG" in _alarm_entries(health)[0]["output"]
    assert len(rig.log_lines(r"alarm over_temperature raised again: GPIO_OVERTEMPSIG")) == 1
    rig.put("/discretes/GPIO_OVERTEMPSIG", {"value": False})
    rig.until("the discrete's episode to end", lambda: _alarm_entries(rig.health())[0]["status"] == "pass")
    status_code, answer = rig.aircraft.post("/api/v1/alarms/over_temperature/ack")
    assert status_code == 200 and answer["active"] is False
    assert rig.aircraft.get("/api/v1/status")[1]["alarms"] == []


CONTRACT_SERIES = (  # CONTRACT.md's metric names that this daemon builds (trust and update are not built yet)
    "appliance_build_info", "appliance_avionics_words_total", "appliance_avionics_parity_errors_total",
    "appliance_avionics_crc_errors_total", "appliance_avionics_parameter_age_seconds", "appliance_discrete_state",
    "appliance_alarm_active", "appliance_power_fail_flush_seconds_count", "appliance_modem_state",
    "appliance_modem_signal_dbm", "appliance_modem_roaming", "appliance_outbox_pending",
    "appliance_outbox_delivered_total", "appliance_sse_clients", "appliance_storage_unsafe_shutdowns_total",
    "appliance_fsck_errors",
)


def expected_label_sets() -> dict[str, tuple[str, set[str]]]:
    from appliance.alarms import KNOWN
    from appliance.avionics.core import CHANNELS
    from appliance.avionics.state import PARAMETER_NAMES
    from appliance.content.check import KINDS
    from appliance.ports import OUTBOX_KINDS
    from hal.discretes.signals import SIGNAL_NAMES

    channels = {str(c) for c in CHANNELS}
    return {
        "appliance_avionics_words_total": ("channel", channels),
        "appliance_avionics_parity_errors_total": ("channel", channels),
        "appliance_avionics_line_errors_total": ("channel", channels),
        "appliance_avionics_crc_errors_total": ("channel", channels | {"heartbeat", "unknown"}),
        "appliance_avionics_parameter_age_seconds": ("name", set(PARAMETER_NAMES)),
        "appliance_discrete_state": ("signal", set(SIGNAL_NAMES)),
        "appliance_alarm_active": ("name", set(KNOWN)),
        "appliance_alarm_latched": ("name", set(KNOWN)),
        "appliance_outbox_pending": ("kind", set(OUTBOX_KINDS)),
        "appliance_outbox_delivered_total": ("kind", set(OUTBOX_KINDS)),
        "appliance_fsck_errors": ("kind", set(KINDS)),
    }


def test_prometheus_has_every_contract_series_from_the_first_scrape(rig: Rig) -> None:
    prometheus = rig.prometheus
    target = rig.until("Prometheus to scrape the daemon", lambda: next(
        (t for t in prometheus.api("/api/v1/targets")["activeTargets"] if t["health"] == "up"), None))
    assert target["lastError"] == "" and target["scrapeUrl"].endswith("/metrics")
    ups = prometheus.api("/api/v1/query", query='up{job="appliance"}[10m]')["result"]
    first = min(float(t) for t, v in ups[0]["values"] if v == "1")  # the daemon's first scrape
    for name in CONTRACT_SERIES:
        found = prometheus.api("/api/v1/query", query=name, time=str(first))["result"]
        assert found, f"{name}: no sample in the first scrape"
    for name, (label, wanted) in expected_label_sets().items():
        found = prometheus.api("/api/v1/query", query=name, time=str(first))["result"]
        have = {series["metric"].get(label) for series in found}
        assert wanted <= have, f"{name}: first scrape lacks {sorted(wanted - have)}"
    for rejected in ("prometheus_target_scrapes_sample_out_of_order_total",
                     "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                     "prometheus_target_scrapes_sample_out_of_bounds_total",
                     "prometheus_target_scrapes_exceeded_sample_limit_total",
                     "prometheus_target_scrapes_exemplar_out_of_order_total"):  # fmt: skip
        assert prometheus.self_metric(rejected) == 0, rejected


def test_avionics_faults_have_a_reason_one_log_line_per_episode_and_per_label_status(rig: Rig) -> None:
    def avionics_reason() -> str:
        return str(rig.component("avionics")["reason"])

    rig.until("avionics to read cleanly", lambda: rig.component("avionics")["status"] == "pass", 20)
    start = rig.mark()
    assert rig.sim.post("/avionics/faults", {"kind": "crc", "seconds": 3})[0] == 200  # a burst of bad CRCs
    rig.until("health to name the burst", lambda: "error burst on channel 0" in avionics_reason())
    assert rig.health()["checks"]["avionics:health"][0]["status"] == "warn"
    _, status = rig.aircraft.get("/api/v1/status")
    assert status["avionics"]["error_rates"]["0"] >= 10
    rig.until("the burst to end", lambda: rig.component("avionics")["status"] == "pass", 20)
    assert len(rig.log_lines(r"error burst on channel 0: \d+ errors/s", start)) == 1
    [end] = rig.log_lines("error burst on channel 0 ended after", start)
    assert re.search(r"ended after [\d.]+ s: 0 parity, [1-9]\d* crc, 0 line errors", end), end

    labels = rig.mark()
    assert rig.sim.post("/avionics/labels/altitude", {"status": "failure_warning"})[0] == 200
    rig.until("health to name the failed altitude", lambda: "altitude (label 203) failure_warning" in avionics_reason())
    assert rig.sim.post("/avionics/labels/360", {"silent": True})[0] == 200
    rig.until("health to name the silent 360", lambda: "flight_information (label 360) stale" in avionics_reason())
    _, status = rig.aircraft.get("/api/v1/status")
    section = status["avionics"]
    assert section["required"]["altitude"] == {"label": "203", "status": "failure_warning"}
    assert {e["status"] for e in section["labels"]["203"]} == {"failure_warning"}
    assert section["labels"]["360"][0]["status"] == "stale" and section["labels"]["360"][0]["age"] > 3
    assert rig.sim.post("/avionics/labels", None, method="DELETE")[0] == 200
    rig.until("avionics to be clean again", lambda: rig.component("avionics")["status"] == "pass", 20)
    assert len(rig.log_lines(r"required parameter altitude \(label 203\) is failure_warning", labels)) == 1
    assert len(rig.log_lines(r"required parameter altitude \(label 203\) is normal again after", labels)) == 1
    assert len(rig.log_lines(r"required parameter flight_information \(label 360\) is stale", labels)) == 1
    assert len(rig.log_lines(r"flight_information \(label 360\) is normal again after", labels)) == 1
