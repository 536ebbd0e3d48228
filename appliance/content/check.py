"""Checking installed bundles against their manifests.

Incremental (boot, file events): a file whose size, mtime and inode match the persisted stat cache was
verified before and is not read again; everything else is hashed. Full (fsck, background re-hash): every
file is hashed. Both find corrupt, truncated, missing and extra files; `repair` quarantines the bad ones and
records what is missing so the next content sync fetches it again.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from appliance.content.hashing import Verdict, verify_batch, verify_file
from appliance.content.manifest import MANIFEST_NAME, FileEntry, ManifestError, load_manifest
from appliance.content.statcache import STATCACHE, StatCache
from appliance.content.store import ContentStore

PROCESS_THRESHOLD = 512  # files: below this, worker processes cost more than they save
KINDS = ("corrupt", "truncated", "missing", "extra", "manifest", "unreadable", "layout")
LAYOUT_DIRS = ("bundles", "staging", "quarantine", "state")

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


@dataclass
class _HashJob:
    bundle: Path
    entry: FileEntry
    chunk_size: int
    stat_before: os.stat_result | None = None  # None: not looked at before hashing (full check)


class Checker:
    def __init__(self, store: ContentStore) -> None:
        self.store = store
        self.cache = StatCache(store.state / STATCACHE)

    def check(
        self,
        *,
        full: bool,
        repair: bool,
        rehash_dirs: set[str] | None = None,
        force: set[str] | None = None,
        workers: int = 2,
        processes: bool = False,
        progress: Progress | None = None,
        throttle: Throttle | None = None,
    ) -> CheckReport:
        """Check every installed bundle. `rehash_dirs`: bundle directories hashed in full even when their stat
        matches (those being written at an unclean shutdown); `force`: files ("dir/path") hashed in any case;
        `processes`: hash in `workers` forked processes (for single-threaded callers such as `appliance fsck`:
        the per-file work is mostly Python, which threads would serialise on the GIL)."""
        started = time.monotonic()
        report = CheckReport("full" if full else "incremental")
        rehash_dirs = rehash_dirs or set()
        force = force or set()
        damage = self.store.damage()
        jobs: list[_HashJob] = []
        seen_keys: set[str] = set()
        summaries: dict[str, dict[str, Any]] = {}
        with self.store.lock:  # not while an install swaps `current` and removes the old bundle
            report.problems.extend(self._layout())
        installed = self.store.installed()
        for bundle in installed:
            report.bundles += 1
            prefix = bundle.name + "/"
            quick = not full and bundle.name not in rehash_dirs and not damage.get(bundle.name)
            if quick and not any(key.startswith(prefix) for key in force):
                count = self.cache.unchanged(bundle)
                if count is not None:
                    report.files += count
                    seen_keys.update(k for k in self.cache.entries if k.startswith(prefix))
                    self._remember_id(bundle)
                    continue
            try:
                manifest_stat = os.lstat(bundle / MANIFEST_NAME)
                manifest = load_manifest(bundle)
            except (ManifestError, OSError) as error:
                report.problems.append(Problem("manifest", bundle.name, MANIFEST_NAME, str(error)))
                self.cache.set_summary(bundle.name, None)
                continue
            self.store.remember_manifest(bundle, StatCache.signature(manifest_stat), manifest.bundle_id, manifest)
            known_missing = set(damage.get(bundle.name, []))
            listed = {MANIFEST_NAME}
            for entry in manifest.files:
                listed.add(entry.path)
                report.files += 1
                key = f"{bundle.name}/{entry.path}"
                seen_keys.add(key)
                if full:  # every file is opened and read anyway: no separate stat
                    if entry.path not in known_missing or os.path.lexists(f"{bundle}/{entry.path}"):
                        jobs.append(_HashJob(bundle, entry, manifest.chunk_size))
                    continue
                job = self._examine(
                    bundle=bundle,
                    entry=entry,
                    chunk_size=manifest.chunk_size,
                    key=key,
                    known_missing=known_missing,
                    report=report,
                )
                if job is not None and (
                    full
                    or bundle.name in rehash_dirs
                    or key in force
                    or job.stat_before is None
                    or not self.cache.matches(key, job.stat_before)
                ):
                    jobs.append(job)
            extra, dir_stats = _extra_files(bundle, listed)
            report.problems.extend(extra)
            if known_missing:
                report.awaiting_download[bundle.name] = sorted(known_missing)
            summaries[bundle.name] = {
                "manifest": StatCache.signature(manifest_stat),
                "files": len(manifest.files),
                "dirs": dir_stats,
                "bundle_id": manifest.bundle_id,
            }
        self._hash(jobs, workers if processes else 1, progress, throttle, report)
        self.cache.keep_only(seen_keys)
        troubled = {p.bundle for p in report.problems} | set(report.awaiting_download)
        for bundle in installed:
            if bundle.name in summaries:
                whole = bundle.name not in troubled
                self.cache.set_summary(bundle.name, summaries[bundle.name] if whole else None)
        for name in set(self.cache.bundles) - {b.name for b in installed}:
            self.cache.set_summary(name, None)
        if repair:
            self._repair(report)
        if self.store.state.is_dir():  # a store without state/ is reported (or repaired above), not crashed on
            self.cache.save()
        report.seconds = time.monotonic() - started
        return report

    def _remember_id(self, bundle: Path) -> None:
        """Tell the store the id of a bundle found unchanged (its manifest is then not parsed for health); a
        summary from before ids were kept gets its id now, from one parse here, off the event loop."""
        summary = self.cache.bundles[bundle.name]
        if not isinstance(summary.get("bundle_id"), str):
            try:
                self.cache.set_summary(bundle.name, summary | {"bundle_id": load_manifest(bundle).bundle_id})
            except ManifestError:
                return  # changed since: the next check examines it
            summary = self.cache.bundles[bundle.name]
        self.store.remember_manifest(bundle, summary["manifest"], summary["bundle_id"])

    def _layout(self) -> list[Problem]:
        """The store's own directories (a missing one is made by --repair) and a `current` that points at no
        installed bundle (left for an engineer: which bundle should be active is not fsck's to guess)."""
        problems = [
            Problem("layout", "", name, "missing directory")
            for name in LAYOUT_DIRS
            if not (self.store.root / name).is_dir()
        ]
        if os.path.islink(self.store.current) and self.store.active_dir() is None:
            target = os.readlink(self.store.current)
            problems.append(Problem("layout", "", "current", f"points at {target}, which is not an installed bundle"))
        return problems

    def _examine(
        self, *, bundle: Path, entry: FileEntry, chunk_size: int, key: str, known_missing: set[str], report: CheckReport
    ) -> _HashJob | None:
        try:
            st = os.lstat(f"{bundle}/{entry.path}")
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
        """Hash the jobs' files: in this thread when throttled, few or `workers` is 1, else in processes."""
        total = sum(j.entry.size for j in jobs)
        if throttle is not None or workers <= 1 or len(jobs) < PROCESS_THRESHOLD:
            results = self._hash_here(jobs, progress, throttle, total)
        else:
            results = _hash_in_processes(jobs, workers, progress, total)
        for job, (kind, detail, signature) in zip(jobs, results, strict=True):
            key = f"{job.bundle.name}/{job.entry.path}"
            if kind in ("ok", "corrupt"):
                report.hashed_files += 1
                report.hashed_bytes += job.entry.size
            if kind != "ok":
                report.problems.append(Problem(kind, job.bundle.name, job.entry.path, detail))
                self.cache.forget(key)
            elif signature is not None:
                self.cache.entries[key] = list(signature)
                self.cache.dirty = True

    @staticmethod
    def _hash_here(
        jobs: list[_HashJob], progress: Progress | None, throttle: Throttle | None, total: int
    ) -> list[Verdict]:
        results: list[Verdict] = []
        done = 0
        for job in jobs:
            entry = job.entry
            results.append(
                verify_file(f"{job.bundle}/{entry.path}", entry.size, entry.chunks, job.chunk_size, throttle)
            )
            if progress is not None:
                done += job.entry.size
                progress(done, total)
        return results

    def _repair(self, report: CheckReport) -> None:
        """Make the store's missing directories; quarantine corrupt, truncated and extra files; record what is
        now missing for the next sync. An OSError (the disk refuses) propagates: the caller reports it."""
        with self.store.lock:
            for problem in report.problems:
                if problem.kind == "layout" and problem.path in LAYOUT_DIRS:
                    self.store.ensure_layout()
                    problem.repaired = True
            # a bundle removed by an install while it was being checked is gone, not damaged
            report.problems = [
                p for p in report.problems if p.kind == "layout" or (self.store.bundles / p.bundle).is_dir()
            ]
            missing: dict[str, list[str]] = {}
            for problem in report.problems:
                bundle = self.store.bundles / problem.bundle
                if problem.kind == "layout":
                    continue
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


def _hash_in_processes(jobs: list[_HashJob], workers: int, progress: Progress | None, total: int) -> list[Verdict]:
    """Batches of about equal bytes, handed to a pool of forked processes."""
    batches: list[list[int]] = []
    target = max(total // (workers * 16), 1)
    current: list[int] = []
    size = 0
    for index, job in enumerate(jobs):
        current.append(index)
        size += job.entry.size + 8192
        if size >= target:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    results: list[Verdict | None] = [None] * len(jobs)
    done = 0
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(
                verify_batch,
                [
                    (
                        f"{jobs[i].bundle}/{jobs[i].entry.path}",
                        jobs[i].entry.size,
                        jobs[i].entry.chunks,
                        jobs[i].chunk_size,
                    )
                    for i in batch
                ],
            ): batch
            for batch in batches
        }
        for future in as_completed(futures):
            batch = futures[future]
            for index, result in zip(batch, future.result(), strict=True):
                results[index] = result
                done += jobs[index].entry.size
            if progress is not None:
                progress(done, total)
    return [r if r is not None else ("unreadable", "not hashed", None) for r in results]


def _extra_files(bundle: Path, listed: set[str]) -> tuple[list[Problem], dict[str, list[int]]]:
    """Files (and symlinks, sockets, ...) in the bundle that its manifest does not list, and the stat signature
    of every directory taken before it was listed (a later change to a directory changes its mtime)."""
    problems: list[Problem] = []
    dir_stats: dict[str, list[int]] = {}
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        path = f"{bundle}/{rel_dir}" if rel_dir else str(bundle)
        dir_stats[rel_dir or "."] = StatCache.signature(os.lstat(path))
        with os.scandir(path) as entries:
            for item in entries:
                rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
                if item.is_dir(follow_symlinks=False):
                    pending.append(rel)
                elif rel not in listed:
                    problems.append(Problem("extra", bundle.name, rel, "not in the manifest"))
    return problems, dir_stats
