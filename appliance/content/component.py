"""The content store component: boot-time check, quick notice of changes, background re-hash, content sync.

At start an interrupted install is finished and the store is checked incrementally (stat cache; after an
unclean shutdown also a full hash of the bundles that were being written). Filesystem events (watchdog) and
a periodic scan trigger further incremental checks; events only make it faster, the scan is the truth. A
background task re-hashes everything at a bounded I/O rate. Bad files are quarantined and reported
(`appliance_fsck_errors{kind}`, health), and the next content sync fetches them again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance import ports
from appliance.component import Check
from appliance.content.answers import REASONS
from appliance.content.check import KINDS, Checker, CheckReport
from appliance.content.config import ContentConfig
from appliance.content.hashing import bad_chunks
from appliance.content.install import remove_stale_incoming
from appliance.content.manifest import ManifestError, load_manifest
from appliance.content.metrics import ContentMetrics
from appliance.content.store import ContentStore
from appliance.content.sync import ContentSync, SyncResult
from appliance.metrics import Metrics
from appliance.ports import BootInfo, ContentVerifier
from appliance.tasks import after_ready, cancel_and_wait, wait_event

if TYPE_CHECKING:
    from appliance.core.spec import Setup

log = logging.getLogger("appliance.content")

EVENT_DEBOUNCE_S = 0.2
READY_WAIT_MAX_S = 60.0  # the re-hash starts after READY=1, or after this long without it


class _Stopping(Exception):
    pass


class RateLimiter:
    """Sleeps the calling thread so that the bytes it reports average at most `bytes_per_s`."""

    def __init__(self, bytes_per_s: float, stopping: threading.Event) -> None:
        self.bytes_per_s = bytes_per_s
        self.stopping = stopping
        self.started = time.monotonic()
        self.total = 0

    def __call__(self, nbytes: int) -> None:
        if self.stopping.is_set():
            raise _Stopping
        self.total += nbytes
        ahead = self.total / self.bytes_per_s - (time.monotonic() - self.started)
        if ahead > 0 and self.stopping.wait(ahead):
            raise _Stopping


class ContentComponent:
    name = "content"

    def __init__(self, config: ContentConfig, metrics: Metrics, boot: BootInfo | None,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self.config = config
        self.ready = ready  # the daemon has sent READY=1: the background re-hash waits for it
        self.metrics = metrics.of(ContentMetrics)
        self.boot = boot
        self.store = ContentStore(Path(config.dir))
        self.checker = Checker(self.store)
        self.last_report: CheckReport | None = None
        self.boot_report: CheckReport | None = None
        self.rehash_passes = 0
        self.checks = 0  # incremental checks run since start (boot, filesystem events, periodic scan)
        for kind in (*KINDS, "awaiting_download"):  # a sample per kind from the first scrape: NaN until checked
            self.metrics.fsck_errors.labels(kind=kind).set(math.nan)
        self.found: dict[str, int] = {}  # problems found since start, by kind
        self.error = ""
        self.last_sync: SyncResult | None = None
        for reason in REASONS:  # every series there from the first scrape
            self.metrics.content_unusable_answers.labels(reason=reason)
        self._check_lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._stopping = threading.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._observer: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        try:
            await asyncio.to_thread(self.store.recover)
            await asyncio.to_thread(remove_stale_incoming, self.store)  # a crashed `appliance content install`
            clean = self.boot.previous_shutdown_clean if self.boot is not None else False
            rehash = self.store.writing() if not clean else set()
            self.boot_report = await self.check(rehash_dirs=rehash)
            await asyncio.to_thread(self.store.prune_quarantine, self.config.quarantine_keep)
        except OSError as error:
            self.error = f"content store {self.store.root}: {error}"
            log.error("%s", self.error)
            return
        if self.config.watch:
            self._start_observer()
        self._tasks.append(asyncio.create_task(self._scan_loop(), name="content-scan"))
        if self.config.rehash_mb_per_s > 0:
            self._tasks.append(asyncio.create_task(self._rehash_loop(), name="content-rehash"))

    async def stop(self) -> None:
        self._stopping.set()
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        if self._observer is not None:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join, 5)
            self._observer = None

    def health(self) -> Check:
        if self.error:
            return Check.failing(self.error)
        report = self.last_report
        details: dict[str, Any] = {"active": self.store.active_id(), "rehash_passes": self.rehash_passes}
        if report is None:
            return Check.warning("not checked yet", **details)
        details |= {"counts": report.counts(), "files": report.files}
        if report.unrepaired:
            first = report.unrepaired[0]
            return Check.failing(
                f"{len(report.unrepaired)} content error(s), e.g. {first.kind} {first.path}", **details
            )
        waiting = sum(len(v) for v in report.awaiting_download.values())
        if waiting:
            return Check.warning(f"{waiting} damaged file(s) quarantined, awaiting download", **details)
        last = self.last_sync
        if last is not None:
            details["last_sync"] = {"status": last.status, "unusable_answers": last.unusable_answers,
                                    "error": last.error}
            if last.unusable_answers:
                return Check.warning(f"last content sync: {last.unusable_answers} unusable answer(s) from the "
                                     f"ground: {last.error}", **details)
        if self.store.active_dir() is None:
            return Check.warning("no content bundle installed", **details)
        return Check.passing(**details)

    # --- checks -----------------------------------------------------------------------------------------

    async def check(self, *, rehash_dirs: set[str] | None = None, force: set[str] | None = None) -> CheckReport:
        """An incremental check with repair (one at a time)."""
        async with self._check_lock:
            self.checks += 1
            writing = self.store.writing()  # installs after this point are checked next time
            report = await asyncio.to_thread(
                self.checker.check, full=False, repair=True, rehash_dirs=rehash_dirs, force=force
            )
            if writing:
                await asyncio.to_thread(self.store.clear_writing, writing)
            if any(problem.quarantined_to for problem in report.problems):
                await asyncio.to_thread(self.store.prune_quarantine, self.config.quarantine_keep)
        self._report(report)
        return report

    def _report(self, report: CheckReport) -> None:
        self.last_report = report
        counts = report.counts()
        for kind in KINDS:
            self.metrics.fsck_errors.labels(kind=kind).set(counts.get(kind, 0))
        waiting = sum(len(v) for v in report.awaiting_download.values())
        self.metrics.fsck_errors.labels(kind="awaiting_download").set(waiting)
        for problem in report.problems:
            self.found[problem.kind] = self.found.get(problem.kind, 0) + 1
            self.metrics.content_problems.labels(kind=problem.kind).inc()
            log.warning("content %s: %s/%s %s", problem.kind, problem.bundle, problem.path, problem.detail)

    def _start_observer(self) -> None:
        """Watch bundles/ for changes only: without the filter inotify also reports every open and close, so each
        segment a passenger streams would wake the scan."""
        try:
            from watchdog import events
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:  # pragma: no cover - watchdog is a dependency
            return
        notify = self._notify
        changes: list[type[FileSystemEvent]] = [
            events.FileCreatedEvent, events.DirCreatedEvent, events.FileDeletedEvent, events.DirDeletedEvent,
            events.FileMovedEvent, events.DirMovedEvent, events.FileModifiedEvent, events.DirModifiedEvent,
            events.FileClosedEvent,
        ]

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                notify()

        observer = Observer()
        try:
            observer.schedule(Handler(), str(self.store.bundles), recursive=True, event_filter=changes)
            observer.start()
        except OSError as error:  # inotify limits: the periodic scan still covers everything
            log.warning("no filesystem events for %s: %s", self.store.bundles, error)
            return
        self._observer = observer

    def _notify(self) -> None:
        """From the watchdog thread: something under bundles/ changed."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dirty.set)

    async def _scan_loop(self) -> None:
        while True:
            await wait_event(self._dirty, self.config.scan_interval_s)
            await asyncio.sleep(EVENT_DEBOUNCE_S)
            self._dirty.clear()
            try:
                await self.check()
            except OSError as error:
                log.warning("content check failed: %s", error)

    async def _rehash_loop(self) -> None:
        # Background work follows READY=1 (the first pass parses every manifest, on the GIL the start needs)
        await after_ready(self.ready, READY_WAIT_MAX_S)
        while True:
            limiter = RateLimiter(self.config.rehash_mb_per_s * 1e6, self._stopping)  # no burst after a pause
            try:
                bad = await asyncio.to_thread(self._rehash_pass, limiter)
            except _Stopping:
                return
            self.rehash_passes += 1
            if bad:
                await self.check(force=bad)
            await asyncio.sleep(self.config.rehash_pause_s)

    def _rehash_pass(self, throttle: Callable[[int], None]) -> set[str]:
        """Hash every installed file at the limited rate; the keys ("dir/path") of those that fail."""
        bad: set[str] = set()
        for bundle in self.store.installed():
            try:
                manifest = load_manifest(bundle)
            except ManifestError:
                continue  # the incremental check reports it
            for entry in manifest.files:
                try:
                    if bad_chunks(bundle / entry.path, entry, manifest.chunk_size, throttle):
                        bad.add(f"{bundle.name}/{entry.path}")
                except OSError:
                    bad.add(f"{bundle.name}/{entry.path}")
        return bad

    # --- content sync (for the ground link) -------------------------------------------------------------

    async def update(self, base_url: str, budget: Callable[[int], bool] | None = None,
                     verifier: ContentVerifier | None = None) -> dict[str, Any]:
        """One content sync attempt against the ground station at `base_url` (see appliance.content.sync);
        with a `verifier`, only what it says is signed is installed (ports.ContentUpdater)."""
        async with self._sync_lock:
            sync = ContentSync(self.store, base_url, concurrency=self.config.sync_concurrency, verifier=verifier)
            result: SyncResult = await sync.sync(budget)
        self.metrics.content_syncs.labels(status=result.status).inc()
        self.metrics.content_sync_bytes.labels(source="network").inc(result.bytes_downloaded)
        self.metrics.content_sync_bytes.labels(source="local").inc(result.bytes_local)
        self.metrics.content_corrupt_chunks.inc(result.corrupt_chunks)
        for reason, count in result.unusable_reasons.items():
            self.metrics.content_unusable_answers.labels(reason=reason).inc(count)
        self.last_sync = result
        if result.status == "activated":
            self._dirty.set()
        return result.as_dict()


def build(setup: Setup[ContentConfig]) -> ContentComponent:
    lifecycle = setup.lifecycle
    component = ContentComponent(setup.config, setup.metrics, setup.use(ports.BOOT), lambda: lifecycle.ready)
    setup.provide(ports.CONTENT, component.store)
    setup.provide(ports.CONTENT_UPDATER, component)
    return component
