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

Every request asks for the bytes as stored (`Accept-Encoding: identity`); a 200 to a Range request that
carries the whole file is taken as the whole file; an answer that cannot be used is counted by reason
(`SyncResult.unusable_reasons`), its file is skipped for this attempt and the attempt ends "failed" after the
other files: no answer is asked for again in a loop (appliance.content.answers, appliance.content.fetch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import aiohttp

from appliance.content.answers import IDENTITY, LinkDown, SyncFailed, Unusable, check_document
from appliance.content.fetch import ByteBudget, Job, Run, SyncResult, SyncStatus, download
from appliance.content.hashing import file_sha256, read_verified, verify_file, verify_range
from appliance.content.manifest import FileEntry, Manifest, ManifestError, parse_manifest, validate_path
from appliance.content.staging import Staging
from appliance.content.statcache import STATCACHE, StatCache
from appliance.content.store import ContentStore
from appliance.ports import ContentVerifier

log = logging.getLogger("appliance.content.sync")

MAX_CORRUPT_PER_CHUNK = 3
LINK_RETRIES = 2

__all__ = ["ByteBudget", "ContentSync", "LinkDown", "Refused", "SyncFailed", "SyncResult", "SyncStatus", "Unusable"]


class Refused(Exception):
    """The verifier refused something the ground served (not signed, or not as signed): nothing installed."""

    def __init__(self, reason: str, what: str) -> None:
        super().__init__(f"{what}: refused ({reason})")
        self.reason = reason


class ContentSync:
    def __init__(
        self,
        store: ContentStore,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        concurrency: int = 3,
        on_activated: Callable[[Path], None] | None = None,
        on_received: Callable[[int], None] | None = None,
        verifier: ContentVerifier | None = None,
    ) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self._session = session
        self.concurrency = concurrency
        self.on_activated = on_activated
        self.on_received = on_received  # told the byte count of every piece of a chunk as it arrives
        self.corrupt_chunks_total = 0
        # with a verifier, the index, the manifest and each file must be the signed targets `content/<path>`
        self.verifier = verifier

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
        except Refused as error:
            result = SyncResult("refused", error=str(error), refusal=error.reason)
        except Unusable as error:  # the index or the manifest
            result = SyncResult("failed", error=str(error))
            result.note_unusable(error.reason)
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
        self._verify_document(manifest_rel, manifest_bytes)
        try:
            manifest = parse_manifest(manifest_bytes)
        except ManifestError as error:
            raise SyncFailed(f"manifest {manifest_rel}: {error}") from None
        if manifest.bundle_id != bundle_id:
            raise SyncFailed(f"manifest {manifest_rel} is bundle {manifest.bundle_id!r}, index says {bundle_id!r}")
        bundle_dir = str(PurePosixPath(manifest_rel).parent)
        if self.verifier is not None:  # every file signed as the manifest says, before a byte of it is fetched
            reason = self.verifier.check_entries(f"content/{bundle_dir}",
                                                 [(e.path, e.size, e.sha256) for e in manifest.files])
            if reason is not None:
                raise Refused(reason, f"bundle {bundle_id}")
        staging = await asyncio.to_thread(Staging.open, self.store.staging, manifest, manifest_bytes, self.store.ops)
        result = SyncResult("interrupted", bundle_id, manifest.total_size)
        run = Run(staging, result, budget, self.on_received)
        try:
            await self._check_space(manifest, staging)
            await asyncio.to_thread(self._plan, run, bundle_dir)
            await self._fetch_all(session, run)
            if run.skipped and not run.stop:
                run.stop, run.error = "failed", "unusable answers from the ground: " + "; ".join(
                    f"{path}: {why}" for path, why in sorted(run.skipped.items())
                )
            if run.stop:  # the counts of what was done stay in the result
                stops: dict[str, SyncStatus] = {"budget": "budget", "failed": "failed"}
                result.status = stops.get(run.stop, "interrupted")
                if run.stop in ("failed", "link"):
                    result.error = run.error
                return result
            # each file hashed once: against its signed target when there is a verifier (the signed hash is the
            # manifest's, checked above), else against the manifest
            if self.verifier is not None:
                await asyncio.to_thread(self._verify_signed, run, bundle_dir)
            else:
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
        self._verify_document("index.json", raw)
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
            async with session.get(url, headers=IDENTITY) as response:
                check_document(url, response.status)
                return await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise LinkDown(f"{url}: {error!r}") from None

    def _verify_document(self, rel: str, data: bytes) -> None:
        if self.verifier is not None:
            reason = self.verifier.check_document(f"content/{rel}", data)
            if reason is not None:
                raise Refused(reason, f"content/{rel}")

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

    def _plan(self, run: Run, bundle_dir: str) -> None:
        """Copy what the store has (verifying it), queue the rest in priority order."""
        staging = run.staging
        chunk_size = staging.manifest.chunk_size
        sources, whole_files = self._local_sources()
        for earlier in Staging.others(self.store.staging, staging.dir):  # an update superseded mid-download
            for digest, path, offset, length in earlier.completed_chunks():
                sources.setdefault(digest, (path, offset, length))
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
                    data = read_verified(source, length, digest) if source is not None else None
                    if data is not None:
                        ops.pwrite(out, data, offset)
                        steps.append((entry.path, index, length))
                        run.result.bytes_local += length
                        run.result.chunks_local += 1
                        continue
                    run.jobs.append(Job(entry, index, url))
                if steps:
                    ops.fsync(out)
            finally:
                ops.close(out)
            staging.record(steps)
        staging.drop_others()

    # --- fetching ---------------------------------------------------------------------------------------

    async def _fetch_all(self, session: aiohttp.ClientSession, run: Run) -> None:
        workers = [asyncio.create_task(self._worker(session, run)) for _ in range(min(self.concurrency, len(run.jobs)))]
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

    async def _worker(self, session: aiohttp.ClientSession, run: Run) -> None:
        while run.jobs and not run.stop:
            job = run.jobs.popleft()
            wanted = run.staging.chunk_length(job.entry, job.index) - run.staging.bytes_done(job.entry, job.index)
            if run.budget is not None and not run.budget(wanted):
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
            except Unusable as error:  # counted, reported; the other files go on
                log.warning("content sync: unusable answer (%s): %s", error.reason, error)
                run.result.note_unusable(error.reason)
                run.skip_file(job.entry.path, str(error))

    async def _fetch_chunk(self, session: aiohttp.ClientSession, run: Run, job: Job) -> None:
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
                    await download(session, run, job, start=start)
                except LinkDown:
                    retries += 1
                    if retries > LINK_RETRIES:
                        raise
                    await asyncio.sleep(0.2 * retries)
                    continue
            good = await asyncio.to_thread(verify_range, target, offset, length, entry.chunks[index])
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

    # --- before activation ------------------------------------------------------------------------------

    def _verify_files(self, run: Run) -> None:
        for entry in run.staging.manifest.files:
            if file_sha256(run.staging.files / entry.path) != entry.sha256:
                run.staging.record([(entry.path, i, 0) for i in range(len(entry.chunks))])
                raise SyncFailed(f"{entry.path}: whole-file SHA-256 differs although every chunk matched")


    def _verify_signed(self, run: Run, bundle_dir: str) -> None:
        """Each staged file against its signed target (the chunks were checked against a signed manifest; this
        is the last word before activation). A refused file is forgotten, so it is fetched again."""
        assert self.verifier is not None
        for entry in run.staging.manifest.files:
            reason = self.verifier.check_file(f"content/{bundle_dir}/{entry.path}", run.staging.files / entry.path)
            if reason is not None:
                run.staging.record([(entry.path, i, 0) for i in range(len(entry.chunks))])
                raise Refused(reason, f"content/{bundle_dir}/{entry.path}")
