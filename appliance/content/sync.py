"""Content sync: bring the store to the ground station's current bundle, fetching only what it lacks.

The ground publishes static files (any HTTP server with Range, e.g. nginx or S3 behind a CDN):
    <url>/content/index.json                {"format": 1, "current": "<id>", "bundles": [{"id", "manifest"}]}
    <url>/content/<manifest path>           the bundle's manifest.json (chunk hashes of a fixed size)
    <url>/content/<bundle dir>/<file path>  the files, fetched chunk by chunk with Range GETs
Chunks the store already has (same hash in the active bundle) are copied locally. Every received block is
fsynced and logged (appliance.content.staging), so a cut or a power loss resumes where it stopped; every
chunk is verified against its hash (a bad one is counted and fetched again) and every file against its
SHA-256 before the bundle is installed and activated atomically. Files go in priority order, a byte budget
can stop the sync cleanly, and a cancellation (window closed) keeps every byte already received.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import aiohttp

from appliance.content.check import STATCACHE, StatCache
from appliance.content.durable import write_durable
from appliance.content.hashing import file_sha256, verify_file
from appliance.content.manifest import FileEntry, Manifest, ManifestError, parse_manifest, validate_path
from appliance.content.staging import Staging
from appliance.content.store import ContentStore

log = logging.getLogger("appliance.content.sync")

# Received bytes are made durable and logged SUBBLOCK at a time. A kill loses, per request in flight, at most
# the block being received and the one being logged: with up to 4 in flight that is at most one chunk.
SUBBLOCK = 32 * 1024
MAX_CORRUPT_PER_CHUNK = 3
LINK_RETRIES = 2

ByteBudget = Callable[[int], bool]
"""Asked before each range request with the bytes it will fetch: True to go ahead, False to stop cleanly."""

SyncStatus = Literal["activated", "up_to_date", "budget", "interrupted", "failed"]


class SyncFailed(Exception):
    """The ground's content cannot be used (bad index or manifest, missing file, repeatedly corrupt chunk,
    no space): this attempt stops; nothing is activated."""


class LinkDown(Exception):
    """The connection failed mid-sync: resume in the next window."""


@dataclass
class SyncResult:
    status: SyncStatus
    bundle_id: str | None = None
    bytes_total: int = 0  # size of the bundle
    bytes_downloaded: int = 0  # body bytes received from the network in this run
    bytes_local: int = 0  # bytes copied from the store instead of fetched
    bytes_resumed: int = 0  # bytes already staged by an earlier, interrupted run
    chunks_fetched: int = 0
    chunks_local: int = 0
    corrupt_chunks: int = 0
    requests: int = 0
    seconds: float = 0.0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Job:
    entry: FileEntry
    index: int
    url: str


@dataclass
class _Run:
    staging: Staging
    result: SyncResult
    jobs: deque[_Job] = field(default_factory=deque)
    stop: str = ""  # why no new requests are issued: "budget", "link", "failed"
    error: str = ""


class ContentSync:
    def __init__(
        self,
        store: ContentStore,
        base_url: str,
        session: aiohttp.ClientSession | None = None,
        concurrency: int = 3,
        on_activated: Callable[[Path], None] | None = None,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._session = session
        self.concurrency = concurrency
        self.on_activated = on_activated
        self.corrupt_chunks_total = 0

    def content_url(self, rel: str) -> str:
        return f"{self.base_url}/content/{rel}"

    async def sync(self, budget: ByteBudget | None = None) -> SyncResult:
        """One attempt. Cancelling it (the window closed) keeps everything received; the next call resumes."""
        started = time.monotonic()
        own = self._session is None
        session = self._session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=30),
            connector=aiohttp.TCPConnector(limit=self.concurrency + 1),
        )
        try:
            result = await self._sync(session, budget)
        except LinkDown as error:
            result = SyncResult("interrupted", error=str(error))
        except SyncFailed as error:
            result = SyncResult("failed", error=str(error))
        finally:
            if own:
                await session.close()
        result.seconds = time.monotonic() - started
        self.corrupt_chunks_total += result.corrupt_chunks
        log.info("content sync: %s", result.as_dict())
        return result

    async def _sync(self, session: aiohttp.ClientSession, budget: ByteBudget | None) -> SyncResult:
        self.store.ensure_layout()
        bundle_id, manifest_rel = await self._current(session)
        active = self.store.active_manifest()
        active_dir = self.store.active_dir()
        if (
            active is not None
            and active_dir is not None
            and active.bundle_id == bundle_id
            and not self.store.damage().get(active_dir.name)
        ):
            return SyncResult("up_to_date", bundle_id, active.total_size)
        manifest_bytes = await self._get_bytes(session, self.content_url(manifest_rel))
        try:
            manifest = parse_manifest(manifest_bytes)
        except ManifestError as error:
            raise SyncFailed(f"manifest {manifest_rel}: {error}") from None
        if manifest.bundle_id != bundle_id:
            raise SyncFailed(f"manifest {manifest_rel} is bundle {manifest.bundle_id!r}, index says {bundle_id!r}")
        staging = await asyncio.to_thread(Staging.open, self.store.staging, manifest, manifest_bytes, self.store.ops)
        result = SyncResult("interrupted", bundle_id, manifest.total_size)
        run = _Run(staging, result)
        try:
            await self._check_space(manifest, staging)
            bundle_dir = str(PurePosixPath(manifest_rel).parent)
            await asyncio.to_thread(self._plan, run, bundle_dir)
            await self._fetch_all(session, run, budget)
            if run.stop:
                result.status = "budget" if run.stop == "budget" else "interrupted"
                if run.stop == "failed":
                    raise SyncFailed(run.error)
                if run.stop == "link":
                    result.error = run.error
                return result
            await asyncio.to_thread(self._verify_files, run)
            staging.close()
            installed = await asyncio.to_thread(self.store.install, staging.files, manifest)
            await asyncio.to_thread(staging.remove)
        finally:
            staging.close()
        result.status = "activated"
        if self.on_activated is not None:
            self.on_activated(installed)
        return result

    # --- talking to the ground -------------------------------------------------------------------------

    async def _current(self, session: aiohttp.ClientSession) -> tuple[str, str]:
        import json

        raw = await self._get_bytes(session, self.content_url("index.json"))
        try:
            index = json.loads(raw)
            bundle_id = index["current"]
            entry = next(b for b in index["bundles"] if b["id"] == bundle_id)
            manifest_rel = validate_path(entry["manifest"])
        except (ValueError, KeyError, TypeError, StopIteration, ManifestError) as error:
            raise SyncFailed(f"content index: {error!r}") from None
        if not isinstance(bundle_id, str):
            raise SyncFailed("content index: current is not a string")
        return bundle_id, manifest_rel

    async def _get_bytes(self, session: aiohttp.ClientSession, url: str) -> bytes:
        try:
            async with session.get(url) as response:
                if response.status == 404:
                    raise SyncFailed(f"{url}: 404")
                if response.status != 200:
                    raise LinkDown(f"{url}: HTTP {response.status}")
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise LinkDown(f"{url}: {error!r}") from None

    # --- planning: what is local, what must be fetched --------------------------------------------------

    async def _check_space(self, manifest: Manifest, staging: Staging) -> None:
        usage = await asyncio.to_thread(shutil.disk_usage, staging.dir)
        staged = sum(
            staging.chunk_length(e, i)
            for e in manifest.files
            for i in range(len(e.chunks))
            if staging.is_complete(e, i)
        )
        needed = manifest.total_size - staged
        if needed > usage.free:
            raise SyncFailed(f"no space: bundle needs {needed} more bytes, {usage.free} free")

    def _local_sources(self) -> tuple[dict[str, tuple[Path, int, int]], dict[tuple[str, int], Path]]:
        """In the active bundle, skipping files known damaged: chunk hash -> (file, offset, length), and
        (file SHA-256, size) -> file for whole files that can be shared."""
        manifest = self.store.active_manifest()
        directory = self.store.active_dir()
        if manifest is None or directory is None:
            return {}, {}
        damaged = set(self.store.damage().get(directory.name, []))
        chunks: dict[str, tuple[Path, int, int]] = {}
        files: dict[tuple[str, int], Path] = {}
        for entry in manifest.files:
            if entry.path in damaged:
                continue
            files.setdefault((entry.sha256, entry.size), directory / entry.path)
            for index, digest in enumerate(entry.chunks):
                offset, length = entry.chunk_range(index, manifest.chunk_size)
                chunks.setdefault(digest, (directory / entry.path, offset, length))
        return chunks, files

    def _share_whole_file(self, staging: Staging, entry: FileEntry, source: Path, verified: StatCache) -> bool:
        """Hard-link an unchanged file of the active bundle into the staged one (bundles are immutable once
        installed, so they can share it: a daily newspaper update does not duplicate the video library). The
        source must be as the store's last check verified it (stat cache), or verify now."""
        try:
            st = os.lstat(source)
        except OSError:
            return False
        key = str(source.relative_to(self.store.bundles))
        if not verified.matches(key, st):
            kind, _, _ = verify_file(str(source), entry.size, entry.chunks, staging.manifest.chunk_size)
            if kind != "ok":
                return False
        target = staging.files / entry.path
        if not target.parent.is_dir():
            staging.ops.mkdir(target.parent)
        if target.exists():
            staging.ops.unlink(target)
        try:
            os.link(source, target)
        except OSError:
            return False
        staging.ops.fsync_dir(target.parent)
        staging.record([(entry.path, i, staging.chunk_length(entry, i)) for i in range(len(entry.chunks))])
        return True

    def _plan(self, run: _Run, bundle_dir: str) -> None:
        """Copy what the store has (verifying it), queue the rest in priority order."""
        staging = run.staging
        chunk_size = staging.manifest.chunk_size
        sources, whole_files = self._local_sources()
        verified = StatCache(self.store.state / STATCACHE)
        for entry in staging.manifest.in_priority_order():
            complete = all(staging.is_complete(entry, i) for i in range(len(entry.chunks)))
            shareable = whole_files.get((entry.sha256, entry.size))
            if not complete and shareable is not None and self._share_whole_file(staging, entry, shareable, verified):
                run.result.bytes_local += entry.size
                run.result.chunks_local += len(entry.chunks)
                continue
            target = staging.prepare_file(entry)
            url = self.content_url(f"{bundle_dir}/{entry.path}" if bundle_dir not in ("", ".") else entry.path)
            steps: list[tuple[str, int, int]] = []
            ops = staging.ops
            out = ops.open(target, os.O_WRONLY)
            try:
                for index, digest in enumerate(entry.chunks):
                    offset, length = entry.chunk_range(index, chunk_size)
                    if staging.is_complete(entry, index):
                        run.result.bytes_resumed += length
                        continue
                    source = sources.get(digest)
                    data = _read_verified(source, length, digest) if source is not None else None
                    if data is not None:
                        ops.pwrite(out, data, offset)
                        steps.append((entry.path, index, length))
                        run.result.bytes_local += length
                        run.result.chunks_local += 1
                        continue
                    run.jobs.append(_Job(entry, index, url))
                if steps:
                    ops.fsync(out)
            finally:
                ops.close(out)
            staging.record(steps)

    # --- fetching ---------------------------------------------------------------------------------------

    async def _fetch_all(self, session: aiohttp.ClientSession, run: _Run, budget: ByteBudget | None) -> None:
        workers = [
            asyncio.create_task(self._worker(session, run, budget)) for _ in range(min(self.concurrency, len(run.jobs)))
        ]
        if not workers:
            return
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*workers, return_exceptions=True)
            raise

    async def _worker(self, session: aiohttp.ClientSession, run: _Run, budget: ByteBudget | None) -> None:
        while run.jobs and not run.stop:
            job = run.jobs.popleft()
            wanted = run.staging.chunk_length(job.entry, job.index) - run.staging.bytes_done(job.entry, job.index)
            if budget is not None and not budget(wanted):
                run.jobs.appendleft(job)
                run.stop = "budget"
                return
            try:
                await self._fetch_chunk(session, run, job)
            except LinkDown as error:
                run.jobs.appendleft(job)
                run.stop = run.stop or "link"
                run.error = str(error)
                return
            except SyncFailed as error:
                run.stop = "failed"
                run.error = str(error)
                return

    async def _fetch_chunk(self, session: aiohttp.ClientSession, run: _Run, job: _Job) -> None:
        staging = run.staging
        entry, index = job.entry, job.index
        offset, length = entry.chunk_range(index, staging.manifest.chunk_size)
        target = staging.files / entry.path
        corrupt = 0
        retries = 0
        while True:
            start = staging.bytes_done(entry, index)
            if start < length:
                try:
                    await self._download(session, run, job, start=start)
                except LinkDown:
                    retries += 1
                    if retries > LINK_RETRIES:
                        raise
                    await asyncio.sleep(0.2 * retries)
                    continue
            good = await asyncio.to_thread(_verify_range, target, offset, length, entry.chunks[index])
            if good:
                await asyncio.to_thread(staging.record, [(entry.path, index, length)])
                run.result.chunks_fetched += 1
                return
            corrupt += 1
            run.result.corrupt_chunks += 1
            log.warning("chunk %d of %s failed its hash (%d): fetching it again", index, entry.path, corrupt)
            await asyncio.to_thread(staging.record, [(entry.path, index, 0)])
            if corrupt >= MAX_CORRUPT_PER_CHUNK:
                raise SyncFailed(f"chunk {index} of {entry.path} corrupt {corrupt} times")

    async def _download(self, session: aiohttp.ClientSession, run: _Run, job: _Job, *, start: int) -> None:
        """Fetch bytes [start, length) of the chunk at `offset`; every SUBBLOCK is made durable and logged except
        the last (logged as complete only once the chunk's hash is verified)."""
        staging = run.staging
        path, index = job.entry.path, job.index
        offset, length = job.entry.chunk_range(index, staging.manifest.chunk_size)
        target = staging.files / path
        position = start
        pending = bytearray()

        def save_partial() -> None:
            nonlocal position
            if pending and position + len(pending) < length:
                write_durable(target, offset + position, bytes(pending), staging.ops)
                position += len(pending)
                pending.clear()
                staging.record([(path, index, position)])

        headers = {"Range": f"bytes={offset + start}-{offset + length - 1}"}
        run.result.requests += 1
        try:
            async with session.get(job.url, headers=headers) as response:
                if response.status == 404:
                    raise SyncFailed(f"{job.url}: 404")
                if response.status != 206:
                    raise LinkDown(f"{job.url}: HTTP {response.status} to a Range request")
                expected = f"bytes {offset + start}-{offset + length - 1}/"
                if not response.headers.get("Content-Range", "").startswith(expected):
                    raise SyncFailed(f"{job.url}: Content-Range {response.headers.get('Content-Range')!r}")
                async for data in response.content.iter_chunked(SUBBLOCK):
                    run.result.bytes_downloaded += len(data)
                    pending += data
                    if position + len(pending) > length:
                        raise SyncFailed(f"{job.url}: more bytes than asked for")
                    if len(pending) >= SUBBLOCK and position + len(pending) < length:
                        block = bytes(pending)
                        await asyncio.to_thread(write_durable, target, offset + position, block, staging.ops)
                        position += len(block)
                        del pending[: len(block)]
                        await asyncio.to_thread(staging.record, [(path, index, position)])
            if position + len(pending) != length:
                raise LinkDown(f"{job.url}: body ended after {position + len(pending) - start} bytes")
            await asyncio.to_thread(write_durable, target, offset + position, bytes(pending), staging.ops)
        except asyncio.CancelledError:
            save_partial()
            raise
        except (aiohttp.ClientError, TimeoutError) as error:
            save_partial()
            raise LinkDown(f"{job.url}: {error!r}") from None
        except LinkDown:
            save_partial()
            raise

    # --- before activation ------------------------------------------------------------------------------

    def _verify_files(self, run: _Run) -> None:
        for entry in run.staging.manifest.files:
            if file_sha256(run.staging.files / entry.path) != entry.sha256:
                run.staging.record([(entry.path, i, 0) for i in range(len(entry.chunks))])
                raise SyncFailed(f"{entry.path}: whole-file SHA-256 differs although every chunk matched")


def _verify_range(target: Path, offset: int, length: int, digest: str) -> bool:
    fd = os.open(target, os.O_RDONLY)
    try:
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    return len(data) == length and hashlib.sha256(data).hexdigest() == digest


def _read_verified(source: tuple[Path, int, int], length: int, digest: str) -> bytes | None:
    """A chunk from a local file, only if it still matches its hash (the store may have rotted since)."""
    path, src_offset, src_length = source
    if src_length != length:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(fd, length, src_offset)
        finally:
            os.close(fd)
    except OSError:
        return None
    if len(data) != length or hashlib.sha256(data).hexdigest() != digest:
        return None
    return data
