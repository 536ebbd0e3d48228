"""The aircraft side: python-tuf's ngclient Updater, started from the pinned root, judged against trusted
time, writing into a generation store (appliance.trust.store), and verification of every file taken from
the ground against the signed targets.

The clock rule: expiry is judged against the reference time the caller passes, which must be the daemon's
trusted time (appliance.storage.clock.TimeKeeper.now(): the persisted time floor plus time since boot, or an
avionics/network anchor), never the raw RTC. TUF metadata has no "not before", so an RTC at 1970 would make
everything valid forever (a freeze attack would go unnoticed) and an RTC at 2038 would make everything
expired (the aircraft would refuse every honest update). TimeKeeper already refuses both RTCs (quality
"floor"), and a reference time before BUILD_FLOOR (2025-01-01) is refused here with Refusal.CLOCK rather than
accepted. python-tuf reads datetime.now() once, into its TrustedMetadataSet's `reference_time`, when the
Updater is constructed; `GenerationUpdater` (appliance.trust.updater) replaces that value before any metadata
is judged (the one place python-tuf reads the time; tests/trust/test_clock.py fails if a python-tuf release
changes that). The same Updater writes its metadata through the store's FileOps (crash safety: see
appliance.trust.store).

Failure semantics: `refresh()` never raises for what the ground served: it returns a RefreshOutcome whose
`refusal` names the attack, or `link_error` for a download failure; either way the last good metadata stays
in use. OSError from the local disk (a failed fsync) is reported as `disk_error`, the last good metadata kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib import parse

from tuf.api import exceptions
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from appliance.fs.atomic import atomic_write_bytes
from appliance.fs.fileops import REAL_OPS, FileOps
from appliance.timebase import BUILD_FLOOR
from appliance.trust.refusal import Refusal, classify
from appliance.trust.store import HISTORY, GenerationStore
from appliance.trust.updater import GenerationUpdater

log = logging.getLogger("appliance.trust")


class _Recorder(FetcherInterface):
    """Wraps the caller's fetcher: counts body bytes and keeps the last metadata body, so a metadata file
    whose hash is not the signed one can be told apart: another genuine version (mix-and-match) or bytes
    that are no metadata of that version at all (tampered)."""

    def __init__(self, inner: FetcherInterface, metadata_url: str, keep: int) -> None:
        self.inner = inner
        self.metadata_url = metadata_url
        self.keep = keep
        self.bytes = 0
        self.last_url = ""
        self.last_body = bytearray()

    def _fetch(self, url: str) -> Iterator[bytes]:
        chunks = self.inner.fetch(url)
        self.last_url = url
        self.last_body = bytearray()
        return self._record(url, chunks)

    def _record(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        metadata = url.startswith(self.metadata_url)
        for chunk in chunks:
            self.bytes += len(chunk)
            if metadata and len(self.last_body) < self.keep:
                self.last_body += chunk
            yield chunk

    def last_metadata_is_genuine(self, root: Root | None) -> bool:
        """True if the last metadata body is signed by the trusted root's keys for its role: a genuine file
        of another version served in place of the one the signed metadata points at."""
        if root is None or not self.last_url.startswith(self.metadata_url):
            return False
        try:
            md = Metadata.from_bytes(bytes(self.last_body))
            root.verify_delegate(md.signed.type, md.signed_bytes, md.signatures)
        except (exceptions.RepositoryError, ValueError, KeyError, TypeError):
            return False
        return True


@dataclass(frozen=True)
class RefreshOutcome:
    ok: bool
    refusal: Refusal | None = None
    link_error: str | None = None
    disk_error: str | None = None
    detail: str = ""
    versions: dict[str, int] = field(default_factory=dict)  # of the metadata in use after the refresh
    bytes: int = 0  # body bytes fetched during the refresh
    cpu_seconds: float = 0.0  # process CPU time the refresh took (both threads)


@dataclass(frozen=True)
class TrustedView:
    """Verified metadata: the root, timestamp, snapshot and targets in use."""

    root: Root
    timestamp: Timestamp
    snapshot: Snapshot
    targets: Targets

    def versions(self) -> dict[str, int]:
        return {"root": self.root.version, "timestamp": self.timestamp.version,
                "snapshot": self.snapshot.version, "targets": self.targets.version}

    def expired(self, reference: datetime) -> bool:
        return any(md.is_expired(reference) for md in (self.root, self.timestamp, self.snapshot, self.targets))


def reference_datetime(reference_time: float) -> datetime:
    return datetime.fromtimestamp(reference_time, UTC)


class TrustedMetadata:
    """One aircraft's trusted TUF metadata. `refresh` is synchronous (run it in a thread:
    `await asyncio.to_thread(trusted.refresh, timekeeper.now())` with a LoopFetcher on the daemon's loop)."""

    def __init__(
        self,
        metadata_dir: Path,
        pinned_root: bytes,
        metadata_url: str,
        targets_url: str,
        *,
        fetcher: FetcherInterface,
        config: UpdaterConfig | None = None,
        ops: FileOps = REAL_OPS,
    ) -> None:
        self.store = GenerationStore(metadata_dir, ops)
        self.pinned_root = pinned_root
        self.metadata_url = metadata_url
        self.targets_url = targets_url if targets_url.endswith("/") else targets_url + "/"
        self.config = config or UpdaterConfig()
        self.fetcher = _Recorder(fetcher, metadata_url, max(self.config.snapshot_max_length,
                                                            self.config.targets_max_length))
        self._view: TrustedView | None = None

    @classmethod
    def from_files(cls, metadata_dir: Path, pinned_root: Path, base_url: str, fetcher: FetcherInterface,
                   config: UpdaterConfig | None = None, *, ops: FileOps = REAL_OPS) -> TrustedMetadata:
        """`base_url` is the repository's root (`<groundlink.url>/tuf`). Raises OSError if the pinned root
        cannot be read (the image is broken: nothing from the ground can be trusted)."""
        base = base_url.rstrip("/")
        return cls(metadata_dir, pinned_root.read_bytes(), f"{base}/metadata/", f"{base}/targets/", fetcher=fetcher,
                   config=config, ops=ops)

    # --- refresh --------------------------------------------------------------------------------------------

    def refresh(self, reference_time: float) -> RefreshOutcome:
        """timestamp -> snapshot -> targets (root rotations first, in order), judged at `reference_time`
        (the daemon's trusted time, seconds since the epoch). The new metadata is used only if all of it
        verified; otherwise the last good metadata stays, and the outcome says why."""
        cpu0 = time.process_time()
        bytes0 = self.fetcher.bytes

        def outcome(ok: bool, **kwargs: Any) -> RefreshOutcome:
            view = self.view()
            return RefreshOutcome(ok, versions=view.versions() if view else {},
                                  bytes=self.fetcher.bytes - bytes0,
                                  cpu_seconds=time.process_time() - cpu0, **kwargs)

        if reference_time < BUILD_FLOOR:
            return outcome(False, refusal=Refusal.CLOCK, detail=f"reference time {reference_time:.0f} is before "
                           "the build floor: no trusted time")
        try:
            gen = self.store.begin()
        except OSError as error:
            return outcome(False, disk_error=str(error))
        updater: GenerationUpdater | None = None
        try:
            updater = GenerationUpdater(self.store, gen, self.metadata_url, None, self.targets_url, self.fetcher,
                                        self.config, bootstrap=self.pinned_root,
                                        reference_time=reference_datetime(reference_time))
            updater.refresh()
            view = _view_of(updater)
        except OSError as error:
            self.store.abort(gen)
            return outcome(False, disk_error=str(error))
        except (exceptions.RepositoryError, exceptions.DownloadError) as error:
            self.store.abort(gen)
            refusal = classify(error)
            root = updater._trusted_set.root if updater is not None else None
            if refusal is Refusal.LENGTH_OR_HASH and self.fetcher.last_metadata_is_genuine(root):
                refusal = Refusal.MIX_AND_MATCH
            if refusal is None:
                return outcome(False, link_error=f"{type(error).__name__}: {error}")
            return outcome(False, refusal=refusal, detail=f"{type(error).__name__}: {error}")
        try:
            self.store.commit(gen)
        except OSError as error:
            self.store.abort(gen)
            return outcome(False, disk_error=str(error))
        self._view = view
        return outcome(True)

    # --- the trusted view -----------------------------------------------------------------------------------

    def view(self) -> TrustedView | None:
        """The metadata in use: the last refresh's, or (after a restart) the committed generation's with
        every signature and version link verified again from the pinned root (expiry is not judged here;
        pass a reference time to `verify_*`). None when there is none or it does not verify."""
        if self._view is None:
            current = self.store.current()
            if current is not None:
                try:
                    self._view = _load_committed(current, self.pinned_root, self.store)
                except (OSError, exceptions.RepositoryError, ValueError, KeyError) as error:
                    log.warning("trusted metadata in %s does not verify: %s", current, error)
        return self._view

    def targetinfo(self, path: str) -> TargetFile | None:
        view = self.view()
        return view.targets.targets.get(path) if view is not None else None

    def _judge(self, path: str, reference_time: float | None) -> TargetFile | Refusal:
        view = self.view()
        if view is None:
            return Refusal.UNKNOWN_TARGET
        if reference_time is not None:
            if reference_time < BUILD_FLOOR:
                return Refusal.CLOCK
            if view.expired(reference_datetime(reference_time)):
                return Refusal.EXPIRED
        info = view.targets.targets.get(path)
        return info if info is not None else Refusal.UNKNOWN_TARGET

    def verify_bytes(self, path: str, data: bytes, reference_time: float | None = None) -> Refusal | None:
        """None if `data` is the signed target `path` (length and every hash); else the refusal."""
        info = self._judge(path, reference_time)
        if isinstance(info, Refusal):
            return info
        try:
            info.verify_length_and_hashes(data)
        except exceptions.LengthOrHashMismatchError:
            return Refusal.LENGTH_OR_HASH
        return None

    def verify_file(self, path: str, local: Path, reference_time: float | None = None) -> Refusal | None:
        """None if the file at `local` is the signed target `path`; else the refusal. An unreadable file is
        OSError (a local fault, not the ground's)."""
        info = self._judge(path, reference_time)
        if isinstance(info, Refusal):
            return info
        with open(local, "rb") as f:
            try:
                info.verify_length_and_hashes(f)
            except exceptions.LengthOrHashMismatchError:
                return Refusal.LENGTH_OR_HASH
        return None

    def target_url(self, info: TargetFile) -> str:
        """Where the target is served: consistent snapshots prefix the file name with its hash."""
        dirname, sep, basename = info.path.rpartition("/")
        name = f"{dirname}{sep}{info.hashes['sha256']}.{basename}" if "sha256" in info.hashes else info.path
        return self.targets_url + parse.quote(name)

    def fetch_bytes(self, path: str) -> bytes | Refusal:
        """Fetch a (small) signed target and verify it: its bytes, or the refusal. A download failure raises
        tuf's DownloadError (not a refusal); endless or slow bodies are refusals. Synchronous like `refresh`
        (run it in a thread when the fetcher is a LoopFetcher)."""
        info = self._judge(path, None)
        if isinstance(info, Refusal):
            return info
        try:
            data = self.fetcher.download_bytes(self.target_url(info), info.length)
        except (exceptions.DownloadLengthMismatchError, exceptions.SlowRetrievalError) as error:
            refusal = classify(error)
            assert refusal is not None
            return refusal
        try:
            info.verify_length_and_hashes(data)
        except exceptions.LengthOrHashMismatchError:
            return Refusal.LENGTH_OR_HASH
        return data

    def download(self, path: str, dest: Path) -> Refusal | None:
        """`fetch_bytes`, then replace `dest` atomically and durably; None on success. `dest` is untouched
        unless the bytes verified."""
        data = self.fetch_bytes(path)
        if isinstance(data, Refusal):
            return data
        atomic_write_bytes(dest, data)
        return None


def _view_of(updater: Updater) -> TrustedView:
    trusted = updater._trusted_set
    return TrustedView(trusted.root, trusted.timestamp, trusted.snapshot, trusted.targets)


def _load_committed(gen: Path, pinned_root: bytes, store: GenerationStore | None = None) -> TrustedView:
    """Re-verify a committed generation offline (read through `store`'s FileOps): the root chain from the
    pinned root, then each role's signature by the final root and the version links timestamp -> snapshot ->
    targets. Raises OSError (a file missing), RepositoryError or ValueError (not whole, not signed, not linked)."""
    reader = store if store is not None else GenerationStore(gen.parent)

    def read(name: str) -> bytes:
        data = reader.read(gen, name)
        if data is None:
            raise FileNotFoundError(f"{gen}/{name}")
        return data

    root_md = Metadata[Root].from_bytes(pinned_root)
    root = root_md.signed
    root.verify_delegate(Root.type, root_md.signed_bytes, root_md.signatures)
    history = set(reader.history(gen))
    while f"{root.version + 1}.root.json" in history:
        new_md = Metadata[Root].from_bytes(read(f"{HISTORY}/{root.version + 1}.root.json"))
        root.verify_delegate(Root.type, new_md.signed_bytes, new_md.signatures)
        new_md.signed.verify_delegate(Root.type, new_md.signed_bytes, new_md.signatures)
        if new_md.signed.version != root.version + 1:
            raise exceptions.BadVersionNumberError("root history out of order")
        root = new_md.signed
    timestamp_md = Metadata[Timestamp].from_bytes(read("timestamp.json"))
    root.verify_delegate(Timestamp.type, timestamp_md.signed_bytes, timestamp_md.signatures)
    snapshot_md = Metadata[Snapshot].from_bytes(read("snapshot.json"))
    root.verify_delegate(Snapshot.type, snapshot_md.signed_bytes, snapshot_md.signatures)
    if snapshot_md.signed.version != timestamp_md.signed.snapshot_meta.version:
        raise exceptions.BadVersionNumberError("snapshot is not the timestamp's")
    targets_md = Metadata[Targets].from_bytes(read("targets.json"))
    root.verify_delegate(Targets.type, targets_md.signed_bytes, targets_md.signatures)
    if targets_md.signed.version != snapshot_md.signed.meta["targets.json"].version:
        raise exceptions.BadVersionNumberError("targets is not the snapshot's")
    return TrustedView(root, timestamp_md.signed, snapshot_md.signed, targets_md.signed)


__all__ = ["RefreshOutcome", "TrustedMetadata", "TrustedView"]
