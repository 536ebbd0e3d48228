"""The storage component: journal + TinyDB store, outbox, boot bookkeeping, time keeper, power-fail flush.

`build(setup)` provides the state directory, the outbox, boot info, the time anchor and a flushable (see
COMPONENT in appliance/storage/__init__.py); it uses the flight view, when there is one, for avionics time.

- start: boot bookkeeping (marker read and removed), recovery (snapshot + journal), time keeper.
- stop: prune delivered items, checkpoint, close the journal, save the time floor, write the clean marker.
- corruption found by recovery also raises the latched alarm `storage_corruption` (cleared by an ack); the
  damaged segment is kept (moved to journal/corrupt/ at the next checkpoint, never deleted).
- health: fail when recovery found corruption, a write or fsync failed, or the disk is full; warn while the
  RTC is not trusted (time is the floor + elapsed until avionics or network time arrives).
- a full disk refuses writes; when room is back (checked every 5 s) the journal is reopened by a full
  recovery. A failed fsync is never reopened in-process (the page cache may lie): it needs a restart.
- emergency_flush (power fail): new writes are *refused* (StorageRefused, "frozen for a power fail"), not
  held: a passenger's request then fails fast instead of hanging into the power loss. Everything queued is
  written and fsynced, then os.sync() is given up to `power_fail_budget`. `resume_writes` lifts the freeze.

Files under [storage] dir: journal/ (segments, snapshot), boot.json, clean-shutdown, time-floor.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import ports
from appliance.alarms import STORAGE_CORRUPTION, Alarms
from appliance.component import Check
from appliance.fs import formats
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir
from appliance.metrics import Metrics
from appliance.ports import FlightView, StorageRefused
from appliance.storage.boot import BootRecord
from appliance.storage.clock import TimeKeeper
from appliance.storage.config import StorageConfig
from appliance.storage.metrics import StorageMetrics
from appliance.storage.outbox import JournalOutbox
from appliance.storage.store import Store
from appliance.storage.tinystore import JournaledDB
from appliance.tasks import cancel_and_wait
from appliance.timebase import Clock

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.storage")

CORRUPTION_ALARM = STORAGE_CORRUPTION


class StorageComponent:
    name = "storage"

    def __init__(self, config: StorageConfig, clock: Clock, metrics: Metrics | None = None, *,
                 flight: Callable[[], FlightView | None] = lambda: None, ops: FileOps = REAL_OPS,
                 alarms: Alarms | None = None) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics.of(StorageMetrics) if metrics is not None else None
        self.flight = flight
        self.ops = ops
        self.alarms = alarms
        #: The reason the clean-shutdown marker records at stop (the daemon's: "orderly stop", or a power fail).
        self.shutdown_reason: Callable[[], str] = lambda: "orderly stop"
        self.directory = Path(config.dir)
        self.path = self.directory  # the StateDirectory service
        self.boot = BootRecord(self.directory, ops)
        self.time = TimeKeeper(self.directory, clock, ops=ops, max_future_days=config.max_future_days,
                               save_interval=config.floor_save_interval)
        self.outbox = JournalOutbox(self.time.stamp, metrics)
        self.store: Store | None = None
        self.db: JournaledDB | None = None
        self.start_error: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_checkpoint_mono = clock.monotonic()
        self.reopens = 0
        #: The state is in a format this release cannot read: nothing of it is touched, not even at stop.
        self.format_refused = False

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        if await self._try_open():
            self._start_background()
        else:
            # Faults are data: the daemon keeps running (flight info, content); writes are refused, health
            # says why, and the start is retried (a full disk or a late mount may come right).
            self._tasks = [asyncio.create_task(self._retry_start(), name="storage-retry")]

    async def _try_open(self) -> bool:
        try:
            await asyncio.to_thread(self._open)
        except (OSError, formats.FormatUnreadable) as error:
            self.start_error = f"storage did not start: {error}"
            log.error("%s", self.start_error)
            return False
        self.start_error = None
        assert self.store is not None
        self.db = JournaledDB(self.store)
        self.outbox.attach(self.db)
        corruption = self.store.recovery.corruption
        if corruption and self.alarms is not None:
            # An event alarm (appliance.alarms.KNOWN): active until a maintenance engineer acknowledges it.
            self.alarms.raise_alarm(CORRUPTION_ALARM, f"storage recovery found corruption: {corruption[0]}")
        if self.metrics is not None and self.boot.unsafe_shutdowns:
            self.metrics.storage_unsafe_shutdowns.inc(self.boot.unsafe_shutdowns)
        self._update_metrics()
        return True

    def _start_background(self) -> None:
        self._last_checkpoint_mono = self.clock.monotonic()
        self._tasks += [asyncio.create_task(self._time_loop(), name="storage-time"),
                        asyncio.create_task(self._checkpoint_loop(), name="storage-checkpoint"),
                        asyncio.create_task(self._disk_loop(), name="storage-disk")]

    async def _retry_start(self) -> None:
        while True:
            await asyncio.sleep(self.config.start_retry_interval)
            if await self._try_open():
                log.warning("storage: started on retry")
                self._start_background()
                return

    def _open(self) -> None:
        ensure_dir(self.directory, self.ops)
        self.format_refused = False
        # Before anything is written or repaired: state in a format this release cannot read is refused whole
        # (health fails, so a release on trial is rolled back), never recovered as if it were corruption.
        try:
            problem = formats.can_read(formats.READS, formats.read_marker(self.directory, self.ops))
        except formats.FormatUnreadable:
            self.format_refused = True
            raise
        if problem is not None:
            self.format_refused = True
            raise formats.FormatUnreadable(f"{self.directory / formats.MARKER}: {problem}")
        try:
            store = Store.open(self.directory / "journal", self.ops, self.config.segment_bytes,
                               self.config.checkpoint_bytes)
        except formats.FormatUnreadable:
            self.format_refused = True
            raise
        if not self.boot.begun:
            self.boot.begin()
        self.time.boot_id = self.boot.boot_id
        self.time.begin()
        self.store = store
        recovery = self.store.recovery
        log.info("storage: recovered %d record(s) after snapshot %d in %.3f s; %d corrupt region(s)",
                 len(recovery.records), recovery.snapshot_seq, recovery.seconds, len(recovery.corruption))

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        if self.format_refused:
            return  # the release that can read this state finds it exactly as it was
        if self.store is not None:
            store = self.store
            if store.failure is None:
                try:
                    await self.outbox.prune_delivered(self.config.keep_delivered)
                    await asyncio.wrap_future(store.checkpoint())
                except Exception as error:
                    log.error("storage: checkpoint at stop failed: %s", error)
            await asyncio.to_thread(store.close)
            self.outbox.detach()
        await asyncio.to_thread(self.time.save_floor, True)
        try:
            await asyncio.to_thread(self.boot.end, self.shutdown_reason())
        except OSError as error:
            log.error("storage: clean-shutdown marker not written: %s", error)

    # --- background ----------------------------------------------------------------------------------------

    async def _time_loop(self) -> None:
        while True:
            self.time.poll_flight(self.flight())
            await asyncio.to_thread(self.time.save_floor)
            await asyncio.sleep(self.config.time_poll_interval)

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(min(self.config.checkpoint_interval, 60.0))
            store = self.store
            if store is None or store.failure is not None or store.journal.frozen:
                continue
            due = self.clock.monotonic() - self._last_checkpoint_mono >= self.config.checkpoint_interval
            if due and store.journal.bytes_since_checkpoint > 0:
                try:
                    await asyncio.wrap_future(store.checkpoint())
                    self._last_checkpoint_mono = self.clock.monotonic()
                except Exception as error:
                    log.error("storage: checkpoint failed: %s", error)

    async def _disk_loop(self) -> None:
        while True:
            await asyncio.sleep(5.0)
            await self.check_disk()
            self._update_metrics()

    def _update_metrics(self) -> None:
        store = self.store
        if self.metrics is None or store is None:
            return
        journal = store.journal
        self.metrics.storage_recovery_seconds.set(store.recovery.seconds)
        self.metrics.storage_corrupt_regions.set(len(store.recovery.corruption))
        self.metrics.storage_refusing.set(1 if store.failure is not None or journal.frozen else 0)
        self.metrics.storage_journal_bytes.set(journal.bytes_since_checkpoint)

    async def check_disk(self) -> bool:
        """After a full disk (and only then: never after a failed fsync), reopen the journal once there is room
        again. Reopening is a full recovery from disk. True when it reopened."""
        store = self.store
        if store is None or store.failure is None or not store.journal.reopenable:
            return False
        usage = await asyncio.to_thread(shutil.disk_usage, self.directory)
        if usage.free < 4 * self.config.segment_bytes:
            return False
        await asyncio.to_thread(store.close)
        try:
            self.store = await asyncio.to_thread(Store.open, self.directory / "journal", self.ops,
                                                 self.config.segment_bytes, self.config.checkpoint_bytes)
        except OSError as error:  # still failing: the closed store keeps refusing; try again later
            log.error("storage: reopening the journal failed: %s", error)
            return False
        self.db = JournaledDB(self.store)
        self.outbox.attach(self.db)
        self.reopens += 1
        self._update_metrics()
        log.warning("storage: disk has room again (%d MB free): journal reopened, writes accepted",
                    usage.free // 1_000_000)
        return True

    # --- Flushable -----------------------------------------------------------------------------------------

    async def emergency_flush(self) -> None:
        """Refuse new writes, make everything queued durable, then os.sync() within the budget."""
        store = self.store
        if store is not None:
            store.journal.freeze()
            self._update_metrics()
            with contextlib.suppress(StorageRefused):  # closed or failed: nothing more can be made durable
                await asyncio.wrap_future(store.journal.barrier())
        # os.sync in a thread of its own: the shared executor may be busy (content hashing) and this must not
        # queue behind it.
        loop = asyncio.get_running_loop()
        sync: asyncio.Future[None] = loop.create_future()

        def finished() -> None:
            if not sync.done():
                sync.set_result(None)

        def run_sync() -> None:
            try:
                self.ops.sync()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is already gone
                    loop.call_soon_threadsafe(finished)

        threading.Thread(target=run_sync, name="power-fail-sync", daemon=True).start()
        try:
            async with asyncio.timeout(self.config.power_fail_budget):
                await asyncio.shield(sync)
        except TimeoutError:
            log.warning("power fail: os.sync() still running after %.0f ms (the journal is durable)",
                        self.config.power_fail_budget * 1000)

    def resume_writes(self) -> None:
        if self.store is not None:
            self.store.journal.thaw()
        self._update_metrics()

    # --- health --------------------------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """False only when the journal refuses writes until it is reopened (a failed fsync): then a restart is
        the way back, so the watchdog may let systemd do it. Corruption and a full disk are reported in
        health but a restart would not mend them, so they do not stop the watchdog."""
        store = self.store
        if store is None or store.journal.failure is None:
            return True
        return bool(store.journal.reopenable)

    def health(self) -> Check:
        details: dict[str, Any] = {"boot": self.boot.snapshot(), "time": self.time.snapshot()}
        if self.start_error is not None:
            return Check.failing(self.start_error, **details)
        store = self.store
        if store is None:
            return Check.failing("storage not started", **details)
        journal = store.journal
        details["journal"] = {"durable_seq": journal.durable_seq, "segments": journal.segment_count,
                              "snapshot_seq": journal.snapshot_seq, "frozen": journal.frozen,
                              "bytes_since_checkpoint": journal.bytes_since_checkpoint,
                              "recovery_seconds": round(store.recovery.seconds, 4), "reopens": self.reopens}
        details["outbox"] = self.outbox.counts()
        corruption = store.recovery.corruption
        if corruption:
            details["corruption"] = [str(p) for p in corruption]
        if store.failure is not None:
            return Check.failing(store.failure, **details)
        if corruption:
            return Check.failing(f"recovery found corruption: {corruption[0]}"
                                 + (f" (+{len(corruption) - 1} more)" if len(corruption) > 1 else ""), **details)
        if self.time.quality == "floor" and self.time.rtc_problem:
            return Check.warning(f"{self.time.rtc_problem}: time is the floor + elapsed", **details)
        if self.time.save_error:
            return Check.warning(self.time.save_error, **details)
        if journal.frozen:
            return Check.warning("writes frozen for a power fail", **details)
        return Check.passing("journal durable", **details)


def build(setup: Setup[StorageConfig]) -> StorageComponent:
    flight = setup.use(ports.FLIGHT)
    component = StorageComponent(setup.config, setup.clock, setup.metrics, flight=lambda: flight,
                                 alarms=setup.alarms)
    lifecycle = setup.lifecycle
    component.shutdown_reason = lambda: lifecycle.shutdown_reason  # e.g. a power fail, for the next boot
    setup.provide(ports.STATE_DIR, component)
    setup.provide(ports.OUTBOX, component.outbox)
    setup.provide(ports.BOOT, component.boot)
    setup.provide(ports.TIME_ANCHOR, component.time)
    setup.provide(ports.TRUSTED_TIME, component.time)
    setup.provide(ports.FLUSHABLES, component)
    return component


def status_section(component: StorageComponent) -> dict[str, Any]:
    """/api/v1/status "storage": the directory, its disk, and the boot bookkeeping."""
    directory = str(component.directory)
    section: dict[str, Any] = {"dir": directory}
    try:
        usage = shutil.disk_usage(directory)
        section["disk"] = {"total": usage.total, "used": usage.used, "free": usage.free}
    except OSError as error:
        section["disk"] = {"error": str(error)}
    boot = component.boot
    section["boot"] = {
        "boot_id": boot.boot_id,
        "previous_shutdown_clean": boot.previous_shutdown_clean,
        "unsafe_shutdowns": boot.unsafe_shutdowns,
        "last_shutdown_reason": boot.last_shutdown_reason,
    }
    return section
