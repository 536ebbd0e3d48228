"""Checking installed bundles against their manifests.

Incremental (boot, file events): a file whose size, mtime and inode match the persisted stat cache was
verified before and is not read again; everything else is hashed. Full (fsck, background re-hash): every
file is hashed. Both find corrupt, truncated, missing and extra files; `repair` quarantines the bad ones and
records what is missing so the next content sync fetches it again.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.content.durable import atomic_write_bytes
from appliance.content.hashing import bad_chunks
from appliance.content.manifest import MANIFEST_NAME, FileEntry, ManifestError, load_manifest
from appliance.content.store import ContentStore

STATCACHE = "statcache.json"
KINDS = ("corrupt", "truncated", "missing", "extra", "manifest", "unreadable")

Progress = Callable[[int, int], None]  # (bytes hashed so far, bytes to hash)
Throttle = Callable[[int], None]  # called after each read of n bytes; may sleep or raise to stop


@dataclass
class Problem:
    kind: str
    bundle: str  # bundle directory name
    path: str
    detail: str = ""
    repaired: bool = False
    quarantined_to: str = ""


@dataclass
class CheckReport:
    mode: str
    bundles: int = 0
    files: int = 0
    hashed_files: int = 0
    hashed_bytes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    awaiting_download: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(KINDS, 0)
        for problem in self.problems:
            result[problem.kind] = result.get(problem.kind, 0) + 1
        return result

    @property
    def unrepaired(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"counts": self.counts()}


class StatCache:
    """Size, mtime and inode of every file last verified good, persisted by atomic replace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, list[int]] = {}
        self.dirty = False
        try:
            raw = json.loads(path.read_bytes())
            if isinstance(raw, dict):
                self.entries = {k: v for k, v in raw.items() if isinstance(v, list) and len(v) == 3}
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def signature(st: os.stat_result) -> list[int]:
        return [st.st_size, st.st_mtime_ns, st.st_ino]

    def matches(self, key: str, st: os.stat_result) -> bool:
        return self.entries.get(key) == self.signature(st)

    def record(self, key: str, st: os.stat_result) -> None:
        signature = self.signature(st)
        if self.entries.get(key) != signature:
            self.entries[key] = signature
            self.dirty = True

    def forget(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self.dirty = True

    def keep_only(self, keys: set[str]) -> None:
        stale = [k for k in self.entries if k not in keys]
        for key in stale:
            del self.entries[key]
        self.dirty = self.dirty or bool(stale)

    def save(self) -> None:
        if self.dirty:
            atomic_write_bytes(self.path, json.dumps(self.entries, separators=(",", ":")).encode())
            self.dirty = False


@dataclass
class _HashJob:
    bundle: Path
    entry: FileEntry
    chunk_size: int
    stat_before: os.stat_result


class Checker:
    def __init__(self, store: ContentStore, lock: threading.Lock | None = None) -> None:
        self.store = store
        self.lock = lock or threading.Lock()
        self.cache = StatCache(store.state / STATCACHE)

    def check(
        self,
        *,
        full: bool,
        repair: bool,
        rehash_dirs: set[str] | None = None,
        force: set[str] | None = None,
        workers: int = 2,
        progress: Progress | None = None,
        throttle: Throttle | None = None,
    ) -> CheckReport:
        """Check every installed bundle. `rehash_dirs`: bundle directories hashed in full even when their stat
        matches (those being written at an unclean shutdown); `force`: files ("dir/path") hashed in any case."""
        started = time.monotonic()
        report = CheckReport("full" if full else "incremental")
        rehash_dirs = rehash_dirs or set()
        force = force or set()
        damage = self.store.damage()
        jobs: list[_HashJob] = []
        seen_keys: set[str] = set()
        for bundle in self.store.installed():
            report.bundles += 1
            try:
                manifest = load_manifest(bundle)
            except ManifestError as error:
                report.problems.append(Problem("manifest", bundle.name, MANIFEST_NAME, str(error)))
                continue
            known_missing = set(damage.get(bundle.name, []))
            listed = {MANIFEST_NAME}
            for entry in manifest.files:
                listed.add(entry.path)
                report.files += 1
                key = f"{bundle.name}/{entry.path}"
                seen_keys.add(key)
                job = self._examine(
                    bundle=bundle,
                    entry=entry,
                    chunk_size=manifest.chunk_size,
                    key=key,
                    known_missing=known_missing,
                    report=report,
                )
                if job is not None and (
                    full or bundle.name in rehash_dirs or key in force or not self.cache.matches(key, job.stat_before)
                ):
                    jobs.append(job)
            report.problems.extend(_extra_files(bundle, listed))
            if known_missing:
                report.awaiting_download[bundle.name] = sorted(known_missing)
        self._hash(jobs, workers, progress, throttle, report)
        self.cache.keep_only(seen_keys)
        if repair:
            self._repair(report)
        self.cache.save()
        report.seconds = time.monotonic() - started
        return report

    def _examine(
        self, *, bundle: Path, entry: FileEntry, chunk_size: int, key: str, known_missing: set[str], report: CheckReport
    ) -> _HashJob | None:
        try:
            st = os.lstat(bundle / entry.path)
        except FileNotFoundError:
            self.cache.forget(key)
            if entry.path not in known_missing:
                report.problems.append(Problem("missing", bundle.name, entry.path))
            return None
        except OSError as error:
            report.problems.append(Problem("unreadable", bundle.name, entry.path, error.strerror or str(error)))
            return None
        if not stat.S_ISREG(st.st_mode):
            self.cache.forget(key)
            report.problems.append(Problem("corrupt", bundle.name, entry.path, "not a regular file"))
            return None
        if st.st_size != entry.size:
            self.cache.forget(key)
            report.problems.append(
                Problem("truncated", bundle.name, entry.path, f"{st.st_size} bytes, manifest says {entry.size}")
            )
            return None
        return _HashJob(bundle, entry, chunk_size, st)

    def _hash(
        self,
        jobs: list[_HashJob],
        workers: int,
        progress: Progress | None,
        throttle: Throttle | None,
        report: CheckReport,
    ) -> None:
        total = sum(j.entry.size for j in jobs)
        done = 0
        progress_lock = threading.Lock()

        def run(job: _HashJob) -> tuple[_HashJob, list[int] | OSError]:
            nonlocal done
            try:
                result: list[int] | OSError = bad_chunks(
                    job.bundle / job.entry.path, job.entry, job.chunk_size, throttle
                )
            except OSError as error:
                result = error
            if progress is not None:
                with progress_lock:
                    done += job.entry.size
                    progress(done, total)
            return job, result

        if workers <= 1 or len(jobs) < 2:
            results = [run(job) for job in jobs]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="content-hash") as pool:
                results = list(pool.map(run, jobs))
        for job, result in results:
            key = f"{job.bundle.name}/{job.entry.path}"
            report.hashed_files += 1
            report.hashed_bytes += job.entry.size
            if isinstance(result, OSError):
                report.problems.append(Problem("unreadable", job.bundle.name, job.entry.path, str(result)))
                self.cache.forget(key)
            elif result:
                detail = f"{len(result)} of {len(job.entry.chunks)} chunks differ (first: {result[0]})"
                report.problems.append(Problem("corrupt", job.bundle.name, job.entry.path, detail))
                self.cache.forget(key)
            else:
                try:
                    after = os.lstat(job.bundle / job.entry.path)
                except OSError:
                    continue
                if StatCache.signature(after) == StatCache.signature(job.stat_before):
                    self.cache.record(key, after)

    def _repair(self, report: CheckReport) -> None:
        """Quarantine corrupt, truncated and extra files; record what is now missing for the next sync."""
        with self.lock:
            missing: dict[str, list[str]] = {}
            for problem in report.problems:
                bundle = self.store.bundles / problem.bundle
                if problem.kind in ("corrupt", "truncated", "extra"):
                    try:
                        dest = self.store.quarantine_file(bundle, problem.path)
                    except OSError as error:
                        problem.detail = f"{problem.detail}; quarantine failed: {error}".lstrip("; ")
                        continue
                    problem.quarantined_to = str(dest.relative_to(self.store.root))
                    problem.repaired = True
                    if problem.kind != "extra":
                        missing.setdefault(problem.bundle, []).append(problem.path)
                elif problem.kind == "missing":
                    missing.setdefault(problem.bundle, []).append(problem.path)
                    problem.repaired = True
            for bundle_name, paths in missing.items():
                self.store.record_damage(bundle_name, paths)
                report.awaiting_download.setdefault(bundle_name, [])
                report.awaiting_download[bundle_name] = sorted(set(report.awaiting_download[bundle_name]) | set(paths))


def _extra_files(bundle: Path, listed: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for dirpath, dirnames, filenames in os.walk(bundle):
        rel_dir = os.path.relpath(dirpath, bundle)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            rel = rel.replace(os.sep, "/")
            if rel not in listed:
                problems.append(Problem("extra", bundle.name, rel, "not in the manifest"))
    return problems
