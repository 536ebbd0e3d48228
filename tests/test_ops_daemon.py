"""The daemon under systemd, in-process: READY after every component started, STATUS, the watchdog fed only
while the loop and every critical component are alive, STOPPING and orderly stop, SIGHUP reload."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from appliance import maintenance
from appliance.appconfig import parse_config
from appliance.component import Check
from appliance.config import EX_CONFIG
from appliance.core.spec import ComponentSpec
from appliance.daemon import Daemon
from appliance.sensors.config import SensorsConfig
from tests.conftest import free_port
from tests.ops_support import NotifyListener, base_config, toml_dump, write_token

BUILT: dict[str, Any] = {}
EVENTS: list[str] = []


class Slow:
    """Takes a while to start (as storage recovery does): READY must wait for it."""

    name = "slow"
    critical = True

    async def start(self) -> None:
        await asyncio.sleep(0.3)
        EVENTS.append("slow started")

    async def stop(self) -> None:
        EVENTS.append("slow stopped")

    def health(self) -> Check:
        return Check.passing()


class SocketReader:
    """A critical reader: a task reading a real socket until EOF. Alive while that task runs."""

    name = "reader"
    critical = True

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.task: asyncio.Task[None] | None = None
        self.received = 0

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while data := await loop.sock_recv(self.ours, 4096):
            self.received += len(data)

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.ours.close()
        self.theirs.close()
        EVENTS.append("reader stopped")

    def alive(self) -> bool:
        return self.task is not None and not self.task.done()

    def health(self) -> Check:
        return Check.passing(received=self.received) if self.alive() else Check.failing("reader ended")


class Absent:
    """A non-critical device that is not there: ready, but degraded."""

    name = "sensors"
    critical = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Check:
        return Check.failing("no I2C bus /dev/i2c-9")


class Broken:
    """A non-critical component whose start fails."""

    name = "modem"
    critical = False

    async def start(self) -> None:
        raise OSError(2, "No such file or directory: '/dev/modem-at'")

    async def stop(self) -> None:
        raise AssertionError("a component that did not start is not stopped")

    def health(self) -> Check:
        return Check.passing()


class Reloadable:
    """Takes the [sensors] section (poll_interval live; any other key needs a restart)."""

    name = "sensors"
    critical = False

    def __init__(self, config: SensorsConfig) -> None:
        self.config = config
        self.reloads: list[SensorsConfig] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def reload(self, new_config: SensorsConfig) -> None:
        self.reloads.append(new_config)
        self.config = new_config

    def health(self) -> Check:
        return Check.passing(f"poll {self.config.poll_interval}")


SLOW = ComponentSpec("slow", build=lambda setup: BUILT.setdefault("slow", Slow()), critical=True)
READER = ComponentSpec("reader", build=lambda setup: BUILT.setdefault("reader", SocketReader()), critical=True)
ABSENT = ComponentSpec("sensors", build=lambda setup: BUILT.setdefault("absent", Absent()))
BROKEN = ComponentSpec("modem", build=lambda setup: BUILT.setdefault("broken", Broken()))
RELOADABLE = ComponentSpec(
    "sensors", config=SensorsConfig, build=lambda setup: BUILT.setdefault("reloadable", Reloadable(setup.config)),
    reloadable=frozenset({"poll_interval"}),
)
MAINTENANCE = maintenance.COMPONENT


@pytest.fixture
def notify(monkeypatch: pytest.MonkeyPatch) -> Any:
    listener = NotifyListener(abstract=True)
    monkeypatch.setenv("NOTIFY_SOCKET", listener.address)
    monkeypatch.setenv("WATCHDOG_USEC", "300000")  # a ping every 0.15 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    BUILT.clear()
    EVENTS.clear()
    yield listener
    listener.close()


def make_daemon(tmp_path: Path, specs: list[ComponentSpec[Any]], **sections: Any) -> Daemon:
    """A daemon of `specs` only, its config file holding their sections (and others it ignores)."""
    write_token(tmp_path / "maintenance.token")
    document = {k: v for k, v in base_config(tmp_path, free_port(), **sections).items()
                if k in {spec.name for spec in specs if spec.config is not None}}
    config_path = tmp_path / "appliance.toml"
    config_path.write_text(toml_dump(document))
    return Daemon(parse_config(document, str(config_path), specs), specs=specs, config_path=config_path)


async def test_ready_only_after_every_component_started_then_watchdog_status_and_orderly_stop(
    tmp_path: Path, notify: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_daemon(tmp_path, [SLOW, READER, MAINTENANCE])
    daemon = ctx
    run = asyncio.create_task(daemon.run())
    ready = await asyncio.to_thread(notify.wait_for, "READY", "1", 10)
    assert EVENTS == ["slow started"], "READY=1 before the slow component finished starting"
    assert "STATUS" in ready.fields and "degraded" not in ready.fields["STATUS"]
    starting = [m.fields["STATUS"] for m in notify.snapshot() if m.has("STATUS") and not m.has("READY")]
    assert starting[:3] == ["starting slow", "starting reader", "starting maintenance"]
    assert ctx.lifecycle.ready
    await asyncio.sleep(0.8)
    pings = notify.times("WATCHDOG", ready.at)
    assert len(pings) >= 3, pings
    assert all(b - a < 0.6 for a, b in itertools.pairwise(pings)), pings  # 0.15 s apart, slack for a busy CI
    os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops the unit
    assert await asyncio.wait_for(run, 10) == 0
    stopping = notify.wait_for("STOPPING", "1", 1)
    assert notify.index_of(stopping) > notify.index_of(ready)
    assert EVENTS == ["slow started", "reader stopped", "slow stopped"]  # reverse order
    assert not ctx.lifecycle.ready and ctx.lifecycle.stopping


async def test_a_dead_critical_reader_stops_the_watchdog_pings(
    tmp_path: Path, notify: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_daemon(tmp_path, [READER, MAINTENANCE])
    daemon = ctx
    run = asyncio.create_task(daemon.run())
    await asyncio.to_thread(notify.wait_for, "READY", "1", 10)
    await asyncio.sleep(0.5)
    reader: SocketReader = BUILT["reader"]
    reader.theirs.sendall(b"x" * 100)
    reader.theirs.close()  # the device went away: the reader task sees EOF and ends
    await asyncio.sleep(0.2)
    assert not reader.alive() and reader.received == 100
    died = time.monotonic()
    await asyncio.sleep(1.0)
    assert notify.times("WATCHDOG", died + 0.05) == [], "pings went on with a dead critical reader"
    assert "reader" in ctx.lifecycle.watchdog_withheld
    await asyncio.sleep(Daemon.STATUS_PERIOD)
    assert "watchdog withheld: critical component not alive: reader" in notify.snapshot()[-1].fields.get("STATUS", "")
    daemon.request_stop("test")
    assert await asyncio.wait_for(run, 10) == 0


async def test_a_blocked_event_loop_stops_the_watchdog_pings(
    tmp_path: Path, notify: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_daemon(tmp_path, [READER, MAINTENANCE])
    daemon = ctx
    run = asyncio.create_task(daemon.run())
    await asyncio.to_thread(notify.wait_for, "READY", "1", 10)
    await asyncio.sleep(0.5)
    blocked_at = time.monotonic()
    time.sleep(1.5)  # noqa: ASYNC251 - the loop is blocked: nothing runs, not even the pinger
    unblocked_at = time.monotonic()
    await asyncio.sleep(1.0)
    pings = notify.times("WATCHDOG", ready_at := blocked_at - 0.5)
    inside = [t for t in pings if blocked_at + 0.05 < t < unblocked_at]
    assert inside == [], "a ping was sent while the loop was blocked"
    assert any(t < blocked_at for t in pings) and any(t > unblocked_at + 0.3 for t in pings), (ready_at, pings)
    # the first wake-up after the block is late by ~1.5 s: that ping is withheld, not sent late
    assert ctx.ctx.metrics.watchdog_withheld._value.get() >= 1
    daemon.request_stop("test")
    assert await asyncio.wait_for(run, 10) == 0


async def test_missing_devices_make_it_ready_but_degraded(
    tmp_path: Path, notify: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_daemon(tmp_path, [ABSENT, BROKEN, READER, MAINTENANCE])
    daemon = ctx
    run = asyncio.create_task(daemon.run())
    ready = await asyncio.to_thread(notify.wait_for, "READY", "1", 10)
    status = ready.fields["STATUS"]
    assert "degraded" in status and "sensors: no I2C bus /dev/i2c-9" in status
    assert "modem: did not start: FileNotFoundError" in status
    await asyncio.sleep(0.5)
    assert notify.times("WATCHDOG", ready.at), "non-critical failures must not stop the watchdog"
    daemon.request_stop("test")
    assert await asyncio.wait_for(run, 10) == 0


async def test_sighup_refuses_a_bad_config_and_applies_a_good_one(
    tmp_path: Path, notify: NotifyListener, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = make_daemon(tmp_path, [RELOADABLE, MAINTENANCE])
    assert ctx.config_path is not None
    good_text = ctx.config_path.read_text()
    original = ctx.config
    daemon = ctx
    run = asyncio.create_task(daemon.run())
    await asyncio.to_thread(notify.wait_for, "READY", "1", 10)

    ctx.config_path.write_text(good_text + "\n[sensors]\npoll_intervall = 2\n")
    mark = len(notify.snapshot())
    os.kill(os.getpid(), signal.SIGHUP)
    reloading = await asyncio.to_thread(notify.wait_for, "RELOADING", "1", 10, mark)
    usec = int(reloading.fields["MONOTONIC_USEC"])
    assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5
    again = await asyncio.to_thread(notify.wait_for, "READY", "1", 10, mark)
    assert "config reload refused" in again.fields["STATUS"] and "sensors.poll_intervall" in again.fields["STATUS"]
    assert ctx.config is original and BUILT["reloadable"].reloads == []

    ctx.config_path.write_text(good_text + "\n[sensors]\npoll_interval = 2.5\n")
    mark = len(notify.snapshot())
    os.kill(os.getpid(), signal.SIGHUP)
    again = await asyncio.to_thread(notify.wait_for, "READY", "1", 10, mark)
    assert "refused" not in again.fields["STATUS"]
    assert ctx.config.sensors.poll_interval == 2.5
    assert [c.poll_interval for c in BUILT["reloadable"].reloads] == [2.5]
    assert ctx.lifecycle.restart_needed == []

    ctx.config_path.write_text(good_text + '\n[sensors]\npoll_interval = 2.5\nbus = "tcp://127.0.0.1:9"\n')
    mark = len(notify.snapshot())
    os.kill(os.getpid(), signal.SIGHUP)
    await asyncio.to_thread(notify.wait_for, "READY", "1", 10, mark)
    assert len(BUILT["reloadable"].reloads) == 1  # bus is not reloadable: the component keeps what it has
    assert ctx.lifecycle.restart_needed == ["sensors.bus"]
    daemon.request_stop("test")
    assert await asyncio.wait_for(run, 10) == 0


@pytest.mark.parametrize(
    ("mode", "content", "message"),
    [(0o644, "secret", "world-readable (mode 0644)"), (0o600, "  \n", "empty"), (None, "", "not found")],
)
async def test_a_bad_token_file_refuses_to_start(
    tmp_path: Path,
    notify: NotifyListener,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    mode: int | None,
    content: str,
    message: str,
) -> None:
    ctx = make_daemon(tmp_path, [SLOW, MAINTENANCE])
    token = tmp_path / "maintenance.token"
    if mode is None:
        token.unlink()
    else:
        token.write_text(content)
        token.chmod(mode)
    assert await ctx.run() == EX_CONFIG
    err = capsys.readouterr().err
    assert f"{token}: maintenance.token_file:" in err and message in err
    assert not any(m.has("READY") for m in notify.snapshot())
    assert EVENTS == ["slow started", "slow stopped"]


def test_alive_may_be_a_method_a_property_or_the_health() -> None:
    from appliance.lifecycle import Lifecycle, is_alive

    class Prop(Absent):
        critical = True

        def __init__(self, value: bool) -> None:
            self.value = value

        @property
        def alive(self) -> bool:
            return self.value

    assert is_alive(Prop(True)) and not is_alive(Prop(False))  # a property wins over a failing health
    assert not is_alive(Absent())  # no alive: health fail means not alive
    reader = SocketReader()
    assert not is_alive(reader)  # a method: its task never started
    assert not is_alive(Prop(True), Lifecycle(start_failures={"sensors": "OSError: no bus"}))  # never started
    reader.ours.close()
    reader.theirs.close()
