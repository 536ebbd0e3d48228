"""What the ground link will call: one `TrustGate` per daemon, in front of everything taken from the ground.

    gate = TrustGate(trusted, metrics)                      # TrustedMetadata with a LoopFetcher on the loop
    outcome = await gate.refresh(timekeeper.now())          # first thing in each ground window
    if not outcome.ok: skip the content sync and the schedule this window (the last good state is served)
    problems = gate.check_manifest("content/<bundle dir>", manifest_bytes, entries)   # before staging
    refusal = gate.check_file("content/<bundle dir>/<path>", staged_path)              # before activation

What an attack gets: the refusal counted in `appliance_trust_refusals_total{reason}`, a health `warn` naming the
reason until what was refused verifies (the metadata in a refresh; a target when it is checked again, or when the
ground signs a new targets version), one log line per episode (an episode is a run of refusals with the same
reason: the same attack every window logs once, a new reason logs again), and `telemetry()` for the ground.
A link failure is none of these: it is logged at debug and the gate stays as it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.component import Check
from appliance.metrics import Metrics
from appliance.trust.client import RefreshOutcome, TrustedMetadata
from appliance.trust.metrics import TrustMetrics
from appliance.trust.refusal import Refusal

log = logging.getLogger("appliance.trust")


@dataclass(frozen=True)
class Entry:
    """A manifest's file as the content sync knows it: path relative to the bundle, size, SHA-256 (hex)."""

    path: str
    size: int
    sha256: str


class TrustGate:
    def __init__(self, trusted: TrustedMetadata, metrics: Metrics | None = None) -> None:
        self.trusted = trusted
        self.metrics = metrics.of(TrustMetrics) if metrics is not None else None
        self.episode: Refusal | None = None  # the reason of the current run of refusals
        self.episode_detail = ""
        # None: the metadata was refused (a verified refresh ends the episode); else the target refused (its
        # verification ends it: a refresh verifies every window while a tampered target is still served)
        self.episode_target: str | None = None
        self.episode_targets_version: int | None = None  # of the metadata in use when the target was refused
        self.refusals: dict[str, int] = {}
        self.last_outcome: RefreshOutcome | None = None

    # --- refusals ------------------------------------------------------------------------------------------

    def refuse(self, reason: Refusal, detail: str, target: str | None = None) -> None:
        """Count one refusal (of the metadata, or of `target`); log it if it starts a new episode."""
        self.refusals[reason.value] = self.refusals.get(reason.value, 0) + 1
        if self.metrics is not None:
            self.metrics.trust_refusals.labels(reason=reason.value).inc()
        if self.episode is not reason:
            log.warning("refused what the ground served (%s): %s; keeping the last good state", reason.value, detail)
        self.episode, self.episode_detail, self.episode_target = reason, detail, target
        view = self.trusted.view()
        self.episode_targets_version = view.targets.version if view is not None else None

    def _accepted(self, target: str | None = None) -> None:
        """The metadata (target None) or `target` verified: the end of an episode about it."""
        if self.episode is not None and self.episode_target == target:
            log.info("what the ground serves verifies again (after %s)", self.episode.value)
            self.episode, self.episode_detail, self.episode_target = None, "", None

    # --- the window ----------------------------------------------------------------------------------------

    async def refresh(self, reference_time: float) -> RefreshOutcome:
        """Refresh the metadata in a worker thread (python-tuf is synchronous); never raises for what the
        ground served. A link or disk failure leaves the episode as it was."""
        outcome = await asyncio.to_thread(self.trusted.refresh, reference_time)
        self.last_outcome = outcome
        if outcome.ok:
            self._accepted()
            if self.episode_target is not None and outcome.versions.get("targets") != self.episode_targets_version:
                self._accepted(self.episode_target)  # newly signed targets: what was refused may be gone
        elif outcome.refusal is not None:
            self.refuse(outcome.refusal, outcome.detail)
        elif outcome.disk_error:
            log.warning("trusted metadata not updated: %s", outcome.disk_error)
        else:
            log.debug("trusted metadata not refreshed: %s", outcome.link_error)
        return outcome

    def check_manifest(self, prefix: str, manifest_bytes: bytes, entries: Iterable[Entry]) -> list[tuple[str, Refusal]]:
        """The manifest at `<prefix>/manifest.json` must be the signed target, and each of its files must be
        signed with the same size and SHA-256 (so the chunked sync can verify chunks against the manifest and
        still install only signed files). Returns the problems, each already counted; [] when all is signed."""
        prefix = prefix.strip("/")
        problems: list[tuple[str, Refusal]] = []
        refusal = self.trusted.verify_bytes(f"{prefix}/manifest.json", manifest_bytes)
        if refusal is not None:
            problems.append(("manifest.json", refusal))
        problems += self._entry_problems(prefix, entries)
        self._refuse_all(prefix, problems)
        return problems

    def check_entries(self, prefix: str, entries: Iterable[Entry]) -> list[tuple[str, Refusal]]:
        """Each file of a manifest signed as `<prefix>/<path>` with the same size and SHA-256; the problems,
        counted as one refusal."""
        prefix = prefix.strip("/")
        problems = self._entry_problems(prefix, entries)
        self._refuse_all(prefix, problems)
        return problems

    def check_bytes(self, target: str, data: bytes, reference_time: float | None = None) -> Refusal | None:
        """A document (the content index, a manifest, the schedule) against its signed target; counted when
        refused. With `reference_time`, metadata expired at that time refuses it too."""
        refusal = self.trusted.verify_bytes(target, data, reference_time)
        if refusal is not None:
            self.refuse(refusal, target, target=target)
        else:
            self._accepted(target)
        return refusal

    def _entry_problems(self, prefix: str, entries: Iterable[Entry]) -> list[tuple[str, Refusal]]:
        problems: list[tuple[str, Refusal]] = []
        for entry in entries:
            info = self.trusted.targetinfo(f"{prefix}/{entry.path}")
            if info is None:
                problems.append((entry.path, Refusal.UNKNOWN_TARGET))
            elif info.length != entry.size or info.hashes.get("sha256") != entry.sha256:
                problems.append((entry.path, Refusal.LENGTH_OR_HASH))
        return problems

    def _refuse_all(self, prefix: str, problems: list[tuple[str, Refusal]]) -> None:
        if problems:
            path, reason = problems[0]
            self.refuse(reason, f"{prefix}/{path}" + (f" and {len(problems) - 1} more" if len(problems) > 1 else ""),
                        target=prefix)
        else:
            self._accepted(prefix)

    def check_file(self, target: str, local: Path) -> Refusal | None:
        """A staged file against its signed target (before activation); counted when refused. OSError
        (unreadable local file) is the caller's."""
        refusal = self.trusted.verify_file(target, local)
        if refusal is not None:
            self.refuse(refusal, target, target=target)
        else:
            self._accepted(target)
        return refusal

    # --- reporting -----------------------------------------------------------------------------------------

    def health(self) -> Check:
        view = self.trusted.view()
        versions = view.versions() if view is not None else {}
        if self.episode is not None:
            return Check.warning(f"refused what the ground served: {self.episode.value}", reason=self.episode.value,
                                 detail=self.episode_detail, versions=versions)
        if view is None:
            return Check.warning("no trusted metadata yet (waiting for the first ground window)")
        return Check.passing(versions=versions)

    def telemetry(self) -> dict[str, Any]:
        """For the summary sent to the ground: the versions in use and what was refused."""
        view = self.trusted.view()
        return {"versions": view.versions() if view is not None else {},
                "refusing": self.episode.value if self.episode is not None else None,
                "refusals": dict(self.refusals)}
