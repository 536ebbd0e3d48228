"""The releases on disk and the one state machine that switches between them, safe at every crash point.

    <root>/releases/<version>/     a whole release: venv, release.json, wheels/, and `.complete` written last
    <root>/current   -> releases/<v>  what systemd starts (/opt/appliance/current/bin/appliance)
    <root>/committed -> releases/<v>  the last release that proved itself healthy (its preflight runs first)
    <root>/previous  -> releases/<v>  the committed release before it (what `appliance release rollback` takes)
    <state>/update/trial.json       the release on trial: version, starts counted, the formats it may write
    <state>/update/refused.json     versions refused for later windows, with the reason
    <state>/update/history.json     the last events (activate, commit, rollback), for status and telemetry

Every link is replaced by one atomic rename of a new symlink over it (then the directory is fsynced); every
JSON file by appliance.fs.atomic. A directory under releases/ without `.complete` is never pointed at (an install
cut by a power loss is removed and redone). The orders below are what make each crash state boot a whole
release, old or new: a trial exists only while `current != committed`, and trial.json is written before
`current` moves to the new release, so a trial release without its record is rolled back (state it cannot
read); a rollback of a trial records the refusal before it moves `current` back; a manual rollback moves
`committed` before `current` and records the refusal last (a release that runs is never a refused one).
Everything goes through appliance.fs.fileops so tests/update/test_update_crash_states.py can replay every crash
state. OSError from the disk propagates (nothing is acknowledged that is not durable).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.fs import formats
from appliance.fs.atomic import atomic_write_bytes, read_state_file, temp_name
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir
from appliance.update.manifest import MANIFEST, ManifestError, Release, parse

COMPLETE = ".complete"
LINKS = ("current", "committed", "previous")
HISTORY_KEEP = 20


class ActivationRefused(Exception):
    """The release cannot be put on trial (not installed whole, refused, or its state formats do not fit)."""


@dataclass(frozen=True)
class Trial:
    version: str
    starts: int
    writes: dict[str, int]
    since_wall: float


class Layout:
    def __init__(self, root: Path, state_dir: Path, *, ops: FileOps = REAL_OPS,
                 wall: Callable[[], float] = time.time, max_starts: int = 3) -> None:
        self.root = root
        self.releases = root / "releases"
        self.state = state_dir / "update"
        self.state_dir = state_dir
        self.ops = ops
        self.wall = wall
        self.max_starts = max_starts

    # --- reading ------------------------------------------------------------------------------------------

    def link(self, name: str) -> str | None:
        """The version a link names when it points at a whole release; None otherwise."""
        path = self.root / name
        try:
            target = self.ops.readlink(path)
        except OSError:
            return None
        version = Path(target).name
        if Path(target).parent.name != "releases" or not self.complete(version):
            return None
        return version

    def complete(self, version: str) -> bool:
        return self.ops.exists(self.releases / version / COMPLETE)

    def release(self, version: str) -> Release | None:
        try:
            return parse(self.ops.read_bytes(self.releases / version / MANIFEST))
        except (OSError, ManifestError):
            return None

    def installed(self) -> list[str]:
        try:
            names = self.ops.listdir(self.releases)
        except OSError:
            return []
        return [n for n in names if not n.startswith(".") and self.complete(n)]

    def _json(self, name: str) -> Any:
        data = read_state_file(self.state / name, self.ops)
        return None if data is None else json.loads(data)

    def refused(self) -> dict[str, str]:
        try:
            value = self._json("refused.json")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def history(self) -> list[dict[str, Any]]:
        try:
            value = self._json("history.json")
        except ValueError:
            return []
        return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []

    def trial(self) -> Trial | None:
        """The trial record, only while `current` differs from `committed`; raises ValueError if unreadable."""
        value = self._json("trial.json")
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("version"), str):
            raise ValueError("trial.json: not a trial record")
        writes = value.get("writes", {})
        return Trial(value["version"], int(value.get("starts", 0)),
                     {str(k): int(v) for k, v in writes.items()} if isinstance(writes, dict) else {},
                     float(value.get("since_wall", 0.0)))

    def pending(self) -> str | None:
        """The installed release waiting for a safe moment (or the next boot) to go on trial."""
        try:
            value = self._json("pending.json")
        except ValueError:
            return None
        version = value.get("version") if isinstance(value, dict) else None
        if not isinstance(version, str) or not self.complete(version) or version in self.refused():
            return None
        return version

    def set_pending(self, version: str) -> None:
        self._write_json("pending.json", {"version": version})

    def state_formats(self) -> dict[str, int] | None:
        return formats.read_marker(self.state_dir, self.ops)

    # --- writing ------------------------------------------------------------------------------------------

    def _write_json(self, name: str, value: Any) -> None:
        ensure_dir(self.state, self.ops)
        atomic_write_bytes(self.state / name, json.dumps(value, sort_keys=True).encode(), ops=self.ops)

    def _remove(self, name: str) -> None:
        if self.ops.exists(self.state / name):
            self.ops.unlink(self.state / name)
            self.ops.fsync_dir(self.state)

    def _swap(self, name: str, version: str) -> None:
        tmp = temp_name(self.root / name)
        self.ops.symlink(f"releases/{version}", tmp)
        try:
            self.ops.rename(tmp, self.root / name)
        except BaseException:
            self.ops.unlink(tmp)
            raise
        self.ops.fsync_dir(self.root)

    def _unlink_link(self, name: str) -> None:
        if self._has_link(name):
            self.ops.unlink(self.root / name)
            self.ops.fsync_dir(self.root)

    def _has_link(self, name: str) -> bool:
        try:
            self.ops.readlink(self.root / name)
        except OSError:
            return False
        return True

    def _event(self, event: str, version: str, reason: str = "") -> None:
        entry = {"event": event, "version": version, "reason": reason, "wall": round(self.wall(), 3)}
        self._write_json("history.json", [*self.history(), entry][-HISTORY_KEEP:])

    def refuse(self, version: str, reason: str) -> None:
        self._write_json("refused.json", {**self.refused(), version: reason})

    def mark_installed(self) -> None:
        """The first release of an image: `current` and `committed` to the only one installed (build time)."""
        versions = self.installed()
        if len(versions) != 1:
            raise ActivationRefused(f"expected one installed release, found {versions}")
        self._swap("committed", versions[0])
        self._swap("current", versions[0])

    # --- the state machine ---------------------------------------------------------------------------------

    def activate(self, version: str) -> Trial:
        """Put an installed release on trial: trial.json first, then `current` -> it. The daemon must then
        restart (the next start runs it). Raises ActivationRefused, leaving everything as it was."""
        committed = self.link("committed")
        if not self.complete(version):
            raise ActivationRefused(f"{version} is not installed whole")
        if version in self.refused():
            raise ActivationRefused(f"{version} was refused: {self.refused()[version]}")
        if committed is None or version == committed:
            raise ActivationRefused(f"nothing to switch from (committed {committed}, asked {version})")
        new, old = self.release(version), self.release(committed)
        if new is None or old is None:
            raise ActivationRefused("a release manifest cannot be read")
        writes = formats.trial_writes(new.state_formats, old.state_formats)
        if isinstance(writes, str):
            self.refuse(version, f"state formats: {writes}")
            raise ActivationRefused(writes)
        trial = Trial(version, 0, writes, self.wall())
        self._remove("pending.json")
        self._write_json("trial.json", {"version": version, "starts": 0, "writes": writes,
                                        "since_wall": trial.since_wall, "from": committed})
        self._swap("current", version)
        self._event("activate", version)
        return trial

    def rollback_trial(self, reason: str) -> str | None:
        """The release on trial failed: refuse it (first), `current` -> committed, drop the trial record.
        Returns the refused version (None when there was no trial)."""
        current, committed = self.link("current"), self.link("committed")
        if committed is None or current == committed:
            return None
        version = current or "unknown"
        if current is not None:
            self.refuse(current, reason)
        self._swap("current", committed)
        self._remove("trial.json")
        self._event("rollback", version, reason)
        return version

    def commit(self) -> str | None:
        """The release on trial proved itself: previous -> committed, committed -> current, then the state may
        be written in its newest formats. Returns the committed version (None when there was no trial)."""
        current, committed = self.link("current"), self.link("committed")
        if current is None or committed is None or current == committed:
            return None
        release = self.release(current)
        self._swap("previous", committed)
        self._swap("committed", current)
        if release is not None:
            formats.write_marker(self.state_dir, formats.newest_writes(release.state_formats), self.ops)
        self._remove("trial.json")
        self._event("commit", current)
        return current

    def rollback(self, reason: str = "rolled back by an engineer") -> str | None:
        """`appliance release rollback`: end a trial, else go back to `previous` (when it can read the state).
        Returns the version now current, None when there is nothing to roll back to."""
        current, committed, previous = self.link("current"), self.link("committed"), self.link("previous")
        if committed is not None and current != committed:
            self.rollback_trial(reason)
            return committed
        if previous is None or committed is None or previous == committed:
            return None
        release = self.release(previous)
        try:
            state = self.state_formats()
        except formats.FormatUnreadable:
            return None
        if release is None or formats.can_read(release.state_formats, state) is not None:
            return None
        # committed before current: a cut in between leaves a trial without a record, which the preflight
        # rolls back (to `previous`, now committed); the refusal last, so a committed release is never refused
        self._swap("committed", previous)
        self._swap("current", previous)
        self.refuse(committed, reason)
        self._unlink_link("previous")
        self._event("rollback", committed, reason)
        return previous

    def preflight(self) -> str:
        """Before each start (ExecStartPre, run by the committed release): repair what a cut left, count the
        start of a release on trial, and roll it back when it cannot go on. Returns what it decided."""
        self._clean_temps()
        current, committed = self.link("current"), self.link("committed")
        if committed is None:
            if current is None:
                return "no release installed"
            self._swap("committed", current)  # a first install cut before `committed` was made
            committed = current
        if current is None:
            self._swap("current", committed)
            current = committed
        if current == committed:
            self._remove("trial.json")
            pending = self.pending()
            if pending is None or pending in self.refused() or pending == current:
                return f"committed {current}"
            try:
                self.activate(pending)  # the next boot is a safe moment
            except ActivationRefused as error:
                self._remove("pending.json")
                return f"committed {current} ({pending} not activated: {error})"
            current = pending
        try:
            trial = self.trial()
        except (ValueError, TypeError) as error:
            self.rollback_trial(f"trial record unreadable: {error}")
            return f"rolled back to {committed}: trial record unreadable"
        if trial is None or trial.version != current:
            self.rollback_trial("no trial record for the release in current")
            return f"rolled back to {committed}: no trial record"
        if current in self.refused():
            self.rollback_trial(self.refused()[current])
            return f"rolled back to {committed}: {current} was refused"
        release = self.release(current)
        try:
            problem = None if release is not None else "its manifest cannot be read"
            problem = problem or formats.can_read(release.state_formats if release else {}, self.state_formats())
        except formats.FormatUnreadable as error:
            problem = str(error)
        if problem is not None:
            self.rollback_trial(f"cannot read the state: {problem}")
            return f"rolled back to {committed}: {current} cannot read the state"
        if trial.starts >= self.max_starts:
            self.rollback_trial(f"crash loop: {trial.starts} starts without a commit")
            return f"rolled back to {committed}: {current} did not commit in {trial.starts} starts"
        self._write_json("trial.json", {"version": trial.version, "starts": trial.starts + 1, "writes": trial.writes,
                                        "since_wall": trial.since_wall, "from": committed})
        return f"trial {current}: start {trial.starts + 1} of {self.max_starts}"

    def _clean_temps(self) -> None:
        try:
            names = self.ops.listdir(self.root)
        except OSError:
            return
        stray = [n for n in names if n.startswith(".") and ".tmp-" in n]
        for name in stray:
            self.ops.unlink(self.root / name)
        if stray:
            self.ops.fsync_dir(self.root)

    def status(self) -> dict[str, Any]:
        try:
            trial = self.trial()
            trial_view: dict[str, Any] | None = (
                {"version": trial.version, "starts": trial.starts, "max_starts": self.max_starts,
                 "writes": trial.writes} if trial is not None and self.link("current") != self.link("committed")
                else None)
        except (ValueError, TypeError) as error:
            trial_view = {"error": str(error)}
        links = {name: self.link(name) for name in LINKS}
        if links["previous"] == links["committed"]:
            links["previous"] = None
        history = self.history()
        return {**links, "trial": trial_view, "installed": self.installed(), "pending": self.pending(),
                "refused": self.refused(),
                "last_event": history[-1] if history else None}
