"""Hardware-in-the-loop helpers: the simulated hardware on its own thread and event loop (as it would be in its
own process), so the daemon's blocking pin requests never wait on their own loop; and a small fsynced journal
standing in for the storage component's Flushable."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from appliance.ports import OutboxItem, StorageRefused
from firmware_sim.hardware import HardwareDevice

T = TypeVar("T")


class SimThread:
    """A HardwareDevice running on a private event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim-hardware", daemon=True)
        self.device: HardwareDevice | None = None

    def start_loop(self) -> None:
        """Only the thread and its loop (a test that starts its own servers on it)."""
        self._thread.start()

    def start(self) -> HardwareDevice:
        self.start_loop()

        async def make() -> HardwareDevice:
            device = HardwareDevice()
            await device.start()
            return device

        self.device = self.run(make())
        return self.device

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def target() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as error:
                future.set_exception(error)

        self.loop.call_soon_threadsafe(target)
        return future.result(10.0)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """From another event loop: await a coroutine run on the simulator's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def endpoints(self) -> dict[str, Any]:
        assert self.device is not None
        return self.device.endpoints()

    def stop(self) -> None:
        if self._thread.is_alive():
            if self.device is not None:
                self.run(self.device.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5.0)
        self.loop.close()


class FsyncJournal:
    """An append-only JSON-lines journal: `append` returns only after fsync; a Flushable for the power-fail path.

    Writes run in a worker thread (the loop stays free); `emergency_flush` refuses new writes, waits for the
    in-flight ones, fsyncs and records when its last fsync finished.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._seq = 0
        self._frozen = False
        self._lock = asyncio.Lock()
        self.acknowledged: list[int] = []
        self.last_fsync: float | None = None  # time.monotonic() when the emergency flush's fsync returned
        self.flushes = 0
        self.resumes = 0

    async def append(self, kind: str, payload: Mapping[str, Any]) -> OutboxItem:
        if self._frozen:
            raise StorageRefused("frozen for a power fail")
        async with self._lock:
            if self._frozen:
                raise StorageRefused("frozen for a power fail")
            self._seq += 1
            seq = self._seq
            line = json.dumps({"seq": seq, "kind": kind, "payload": dict(payload)}) + "\n"
            await asyncio.to_thread(self._write, line.encode())
        self.acknowledged.append(seq)
        return OutboxItem(id=f"o{seq}", seq=seq, kind=kind, payload=payload, created_wall=0.0)

    def _write(self, data: bytes) -> None:
        os.write(self._fd, data)
        os.fsync(self._fd)

    async def emergency_flush(self) -> None:
        self._frozen = True
        async with self._lock:  # the write in flight completes (and is fsynced) first
            await asyncio.to_thread(os.fsync, self._fd)
        self.last_fsync = time.monotonic()
        self.flushes += 1

    def resume_writes(self) -> None:
        self._frozen = False
        self.resumes += 1

    @property
    def frozen(self) -> bool:
        return self._frozen

    def durable_seqs(self) -> list[int]:
        return [json.loads(line)["seq"] for line in self.path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        os.close(self._fd)


def make_ctx(tmp_path: Path, discretes: dict[str, Any] | None = None, sensors: dict[str, Any] | None = None,
             **context: Any) -> Any:
    """A rig for the hardware components alone (tests/component_rig.py)."""
    from appliance.appconfig import parse_config
    from tests.component_rig import Rig

    document: dict[str, Any] = {
        "avionics": {"port": "/dev/null"},
        "modem": {"port": "/dev/null"},
        "groundlink": {"url": "http://127.0.0.1:9/"},
        "storage": {"dir": str(tmp_path / "state")},
        "discretes": discretes or {"pin_factory": "mock"},
        "sensors": sensors or {},
    }
    return Rig(parse_config(document, "<test>"), **context)


class StopRecorder:
    """Stands in for the Daemon's request_stop: records the reasons."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Wait (polling) until `predicate()` holds; AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)
