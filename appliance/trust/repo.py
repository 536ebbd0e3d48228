"""The ground tools: a TUF repository of static files, written with python-tuf's Metadata API.

Layout of REPODIR (serve it as it is, at `<groundlink.url>/tuf/`, from any web server or object store):

    metadata/N.root.json       every root version (clients walk them in order); root.json = the newest
    metadata/timestamp.json    the only file a client fetches unversioned; written last by every publish
    metadata/N.snapshot.json   consistent snapshots: every version is kept, so a CDN may cache it forever
    metadata/N.targets.json
    targets/<dir>/<sha256>.<name>   hash-prefixed target files (never overwritten; cache forever)

Every file is replaced atomically and durably (temp, fsync, rename, fsync dir), and timestamp.json last:
a client reading during a publish sees the old repository or the new one. Failures raise `RepoError` (or
OSError) with the repository left at its last complete state; nothing half-signed is ever published.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from appliance.fs.atomic import atomic_write_bytes, fsync_dir, temp_name
from appliance.trust.keys import KeyStore, KeyStoreError
from appliance.trust.roles import ROLES

HASH = "sha256"
SERIALIZER = JSONSerializer(compact=True)


@dataclass(frozen=True)
class Lifetimes:
    """How long each role's metadata stays valid after it is signed. The timestamp is short (it bounds a
    freeze attack: an aircraft served stale metadata notices within this long) and must be re-signed that
    often (`appliance trust publish` with no PATH does it); root is long (its key is offline)."""

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=90)
    snapshot: timedelta = timedelta(days=30)
    timestamp: timedelta = timedelta(days=2)

    def of(self, role: str) -> timedelta:
        lifetime: timedelta = getattr(self, role)
        return lifetime


class RepoError(Exception):
    """The repository or the keys cannot be used as asked (message says why); nothing was published."""


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).replace(microsecond=0)


def _sign(md: Metadata[Root] | Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp],
          signers: Iterable[CryptoSigner]) -> None:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)


class Repo:
    """One repository directory and its keys. Each operation reads the current state from disk."""

    def __init__(self, keys_dir: Path, repo_dir: Path, lifetimes: Lifetimes | None = None) -> None:
        self.keys = KeyStore(keys_dir)
        self.dir = repo_dir
        self.metadata_dir = repo_dir / "metadata"
        self.targets_dir = repo_dir / "targets"
        self.lifetimes = lifetimes or Lifetimes()

    # --- reading --------------------------------------------------------------------------------------------

    def root_version(self) -> int:
        versions = [int(p.name.split(".")[0]) for p in self.metadata_dir.glob("*.root.json")
                    if p.name.split(".")[0].isdigit()]
        if not versions:
            raise RepoError(f"{self.dir} is no trust repository (run `appliance trust init`)")
        return max(versions)

    def load_root(self) -> Metadata[Root]:
        return Metadata[Root].from_file(str(self.metadata_dir / f"{self.root_version()}.root.json"))

    def load_timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_file(str(self.metadata_dir / "timestamp.json"))

    def load_snapshot(self) -> Metadata[Snapshot]:
        version = self.load_timestamp().signed.snapshot_meta.version
        return Metadata[Snapshot].from_file(str(self.metadata_dir / f"{version}.snapshot.json"))

    def load_targets(self) -> Metadata[Targets]:
        version = self.load_snapshot().signed.meta["targets.json"].version
        return Metadata[Targets].from_file(str(self.metadata_dir / f"{version}.targets.json"))

    # --- writing --------------------------------------------------------------------------------------------

    def _write(self, name: str, md: Metadata[Root] | Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp]
               ) -> bytes:
        data = md.to_bytes(SERIALIZER)
        atomic_write_bytes(self.metadata_dir / name, data)
        return data

    def _online_signers(self, role: str, root: Root) -> list[CryptoSigner]:
        wanted = set(root.roles[role].keyids)
        signers = [s for s in self.keys.signers(role) if s.public_key.keyid in wanted]
        if len(signers) < root.roles[role].threshold:
            raise RepoError(f"{role}: {len(signers)} of the root's keys in {self.keys.dir / role}, "
                            f"threshold {root.roles[role].threshold}")
        return signers

    def _bump(self, md: Metadata[Targets] | Metadata[Snapshot] | Metadata[Timestamp] | Metadata[Root],
              role: str, now: datetime) -> None:
        md.signed.version += 1
        md.signed.expires = now + self.lifetimes.of(role)

    def _resign_chain(self, root: Root, now: datetime, targets: Metadata[Targets] | None) -> None:
        """Write the new targets (if any), then a new snapshot, then a new timestamp (last)."""
        snapshot = self.load_snapshot()
        timestamp = self.load_timestamp()
        if targets is not None:
            self._bump(targets, "targets", now)
            _sign(targets, self._online_signers("targets", root))
            data = self._write(f"{targets.signed.version}.targets.json", targets)
            snapshot.signed.meta["targets.json"] = MetaFile.from_data(targets.signed.version, data, [HASH])
        self._bump(snapshot, "snapshot", now)
        _sign(snapshot, self._online_signers("snapshot", root))
        data = self._write(f"{snapshot.signed.version}.snapshot.json", snapshot)
        timestamp.signed.snapshot_meta = MetaFile.from_data(snapshot.signed.version, data, [HASH])
        self._bump(timestamp, "timestamp", now)
        _sign(timestamp, self._online_signers("timestamp", root))
        self._write("timestamp.json", timestamp)

    def init(self, *, root_keys: int = 1, root_threshold: int = 1, now: datetime | None = None) -> None:
        """Create the keys (`root_keys` root keys with threshold `root_threshold`, one key per online role)
        and version 1 of every role's metadata. Refuses a directory that already holds a repository."""
        if not 1 <= root_threshold <= root_keys:
            raise RepoError(f"root threshold {root_threshold} must be 1..{root_keys} (the number of root keys)")
        if self.metadata_dir.exists() and any(self.metadata_dir.glob("*.root.json")):
            raise RepoError(f"{self.metadata_dir} already holds a repository")
        if any(self.keys.signers(role) for role in ROLES):
            raise RepoError(f"{self.keys.dir} already holds keys")
        when = _now(now)
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        fsync_dir(self.dir)
        signers = {role: [self.keys.generate(role) for _ in range(root_keys if role == "root" else 1)]
                   for role in ROLES}
        root = Root(version=1, expires=when + self.lifetimes.root, consistent_snapshot=True)
        for role, role_signers in signers.items():
            for signer in role_signers:
                root.add_key(signer.public_key, role)
        root.roles["root"].threshold = root_threshold
        root_md = Metadata(root)
        _sign(root_md, signers["root"])
        data = self._write("1.root.json", root_md)
        atomic_write_bytes(self.metadata_dir / "root.json", data)
        targets_md = Metadata(Targets(version=1, expires=when + self.lifetimes.targets))
        _sign(targets_md, signers["targets"])
        data = self._write("1.targets.json", targets_md)
        snapshot_md = Metadata(Snapshot(version=1, expires=when + self.lifetimes.snapshot,
                                        meta={"targets.json": MetaFile.from_data(1, data, [HASH])}))
        _sign(snapshot_md, signers["snapshot"])
        data = self._write("1.snapshot.json", snapshot_md)
        timestamp_md = Metadata(Timestamp(version=1, expires=when + self.lifetimes.timestamp,
                                          snapshot_meta=MetaFile.from_data(1, data, [HASH])))
        _sign(timestamp_md, signers["timestamp"])
        self._write("timestamp.json", timestamp_md)

    def publish(self, paths: Sequence[Path], *, prefix: str = "", now: datetime | None = None,
                retire: Sequence[str] = ()) -> list[str]:
        """Add or replace targets and re-sign targets, snapshot and timestamp; returns the target names.

        A file becomes `<prefix>/<its name>`; a directory (e.g. a packed content bundle) adds every file
        under it as `<prefix>/<directory name>/<relative path>`. `retire` names target directories to drop
        from the signed targets in the same version (an edition no aircraft should install any more, e.g.
        `content/day1`: without it targets.json grows by a bundle's file count every edition); their stored
        files stay for the CDN to expire. With no paths and nothing retired, only snapshot and timestamp are
        re-signed (their expiry renewed). Needs only the online keys (never KEYDIR/root)."""
        when = _now(now)
        root = self.load_root().signed
        entries = list(_expand(paths, prefix))
        gone = [r.strip("/") + "/" for r in retire if r.strip("/")]
        targets = self.load_targets() if entries or gone else None
        if targets is not None:
            for name in [n for n in targets.signed.targets if any(n.startswith(g) for g in gone)]:
                del targets.signed.targets[name]
            for name, local in entries:
                info = TargetFile.from_file(name, str(local), [HASH])
                self._store_target(name, info, local)
                targets.signed.targets[name] = info
        self._resign_chain(root, when, targets)
        return [name for name, _ in entries]

    def _store_target(self, name: str, info: TargetFile, local: Path) -> None:
        """Copy the file to targets/<dir>/<sha256>.<name> (durably; an existing one is the same bytes)."""
        rel = PurePosixPath(name)
        dest = self.targets_dir.joinpath(*rel.parent.parts) / f"{info.hashes[HASH]}.{rel.name}"
        if dest.exists():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(dest)
        try:
            with open(local, "rb") as source, open(tmp, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(dest.parent)

    def rotate(self, role: str, *, now: datetime | None = None) -> None:
        """Replace `role`'s keys with new ones in a new root version, signed by the old root's threshold
        (and, for root, by the new root keys as well); then re-sign what the role signs. The old keys are
        retired. Needs KEYDIR/root (the offline keys) at least up to the threshold."""
        if role not in ROLES:
            raise RepoError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        when = _now(now)
        root_md = self.load_root()
        root = root_md.signed
        old_root_signers = self._online_signers("root", root)
        old_keyids = list(root.roles[role].keyids)
        count = len(old_keyids)
        try:
            new_signers = [self.keys.generate(role) for _ in range(count)]
        except KeyStoreError as error:
            raise RepoError(str(error)) from None
        for keyid in old_keyids:
            root.revoke_key(keyid, role)
        for signer in new_signers:
            root.add_key(signer.public_key, role)
        self._bump(root_md, "root", when)
        _sign(root_md, [*old_root_signers, *(new_signers if role == "root" else [])])
        data = self._write(f"{root.version}.root.json", root_md)
        atomic_write_bytes(self.metadata_dir / "root.json", data)
        for keyid in old_keyids:
            if (self.keys.dir / role / f"{keyid}.pem").exists():
                self.keys.retire(role, keyid)
        if role == "targets":
            self._resign_chain(root, when, self.load_targets())
        elif role in ("snapshot", "timestamp"):
            self._resign_chain(root, when, None)


def _expand(paths: Sequence[Path], prefix: str) -> Iterable[tuple[str, Path]]:
    base = PurePosixPath(prefix.strip("/")) if prefix.strip("/") else PurePosixPath()
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for filename in sorted(filenames):
                    full = Path(dirpath, filename)
                    if full.is_symlink() or not full.is_file():
                        raise RepoError(f"not a regular file: {full}")
                    rel = full.relative_to(path).as_posix()
                    yield str(base / path.resolve().name / rel), full
        elif path.is_file():
            yield str(base / path.name), path
        else:
            raise RepoError(f"{path}: no such file or directory")


def init(keys_dir: Path, repo_dir: Path, *, root_threshold: int = 1, root_keys: int = 1,
         now: datetime | None = None) -> None:
    Repo(keys_dir, repo_dir).init(root_keys=root_keys, root_threshold=root_threshold, now=now)


def publish(keys_dir: Path, repo_dir: Path, paths: Sequence[Path], *, prefix: str = "",
            now: datetime | None = None, retire: Sequence[str] = ()) -> list[str]:
    return Repo(keys_dir, repo_dir).publish(paths, prefix=prefix, now=now, retire=retire)


def rotate(keys_dir: Path, repo_dir: Path, role: str, *, now: datetime | None = None) -> None:
    Repo(keys_dir, repo_dir).rotate(role, now=now)


__all__ = ["HASH", "KeyStoreError", "Lifetimes", "Repo", "RepoError", "init", "publish", "rotate"]
