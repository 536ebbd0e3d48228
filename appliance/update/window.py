"""One ground window's work for releases: pick the newest signed release that is neither installed nor refused
nor older than the committed one, fetch what is missing (appliance.update.fetch: resumable, budgeted,
verified), install it offline (appliance.update.install) and mark it pending for the safe moment.

What the ground served is never trusted beyond the signed targets: the manifest is itself a target, each wheel
it lists must be a target of the same length and SHA-256, and a release built for another Python, or whose
files do not verify, is refused (it is not asked for again). A link failure is not a refusal: the next window
resumes. OSError from the local disk is reported as "failed" with the error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from appliance import ports
from appliance.update.config import UpdateConfig
from appliance.update.fetch import ByteBudget, LinkDown, Mismatch, Progress, Target, fetch_file, reuse, target_url
from appliance.update.install import InstallFailed, install
from appliance.update.layout import Layout
from appliance.update.manifest import MANIFEST, ManifestError, dir_name, parse, valid_version

log = logging.getLogger("appliance.update")


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders "1.10.0" after "1.9.2" (numbers as numbers, anything else as text)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+_-]", version))


class WindowRunner:
    def __init__(self, config: UpdateConfig, layout: Layout) -> None:
        self.config = config
        self.layout = layout
        self.downloads = Path(config.root) / "downloads"
        self.active = False
        self.last: dict[str, Any] | None = None

    def _candidates(self, listed: dict[str, ports.SignedTargetInfo]) -> list[str]:
        pattern = re.compile(rf"^{re.escape(self.config.prefix.strip('/'))}/appliance-([^/]+)/{MANIFEST}$")
        refused, installed = self.layout.refused(), set(self.layout.installed())
        committed = self.layout.link("committed")
        versions = []
        for path in listed:
            match = pattern.match(path)
            if match and valid_version(match.group(1)):
                versions.append(match.group(1))
        newer = [v for v in versions if v not in refused and v not in installed
                 and (committed is None or version_key(v) > version_key(committed))]
        return sorted(newer, key=version_key, reverse=True)

    def _installed_waiting(self) -> str | None:
        """The newest installed release newer than the committed one, neither refused nor running."""
        committed, current, refused = self.layout.link("committed"), self.layout.link("current"), self.layout.refused()
        if committed is None or current != committed:
            return None
        newer = [v for v in self.layout.installed()
                 if v not in refused and version_key(v) > version_key(committed)]
        return max(newer, key=version_key) if newer else None

    def _target(self, targets: ports.SignedTargets, listed: dict[str, ports.SignedTargetInfo], path: str) -> Target:
        info = listed[path]
        sha = info.hashes["sha256"]
        return Target(path, info.length, sha, target_url(targets.targets_url, path, sha))

    async def run(self, session: aiohttp.ClientSession, targets: ports.SignedTargets,
                  budget: ByteBudget | None) -> dict[str, Any]:
        started = time.monotonic()
        progress = Progress()
        result: dict[str, Any] = {"status": "up_to_date", "version": None}
        self.active = True
        try:
            result = await self._run(session, targets, budget, progress, result)
        except LinkDown as error:
            result = {**result, "status": "interrupted", "error": str(error)}
        except OSError as error:
            result = {**result, "status": "failed", "error": f"disk: {error}"}
        finally:
            self.active = False
        result.update(bytes_fetched=progress.bytes_fetched, bytes_local=progress.bytes_local,
                      requests=progress.requests, seconds=round(time.monotonic() - started, 3))
        self.last = result
        return result

    async def _run(self, session: aiohttp.ClientSession, targets: ports.SignedTargets, budget: ByteBudget | None,
                   progress: Progress, result: dict[str, Any]) -> dict[str, Any]:
        waiting = self._installed_waiting()
        if waiting is not None and self.layout.pending() is None:
            # installed by a window that was cancelled (or a process killed) before it could say so
            self.layout.set_pending(waiting)
            return {**result, "status": "installed", "version": waiting}
        view = targets.view()
        if view is None:
            return {**result, "status": "no_metadata"}
        listed = dict(view.targets.targets)
        candidates = self._candidates(listed)
        if not candidates:
            return result
        version = candidates[0]
        base = f"{self.config.prefix.strip('/')}/{dir_name(version)}"
        result = {**result, "version": version}
        where = self.downloads / version
        manifest_target = self._target(targets, listed, f"{base}/{MANIFEST}")
        try:
            if await fetch_file(session, manifest_target, where / MANIFEST, budget, progress) == "budget":
                return {**result, "status": "budget"}
            release = parse((where / MANIFEST).read_bytes())
            python = f"{sys.version_info.major}.{sys.version_info.minor}"
            if release.version != version:
                raise ManifestError(f"version {release.version} in the directory of {version}")
            if release.python != python:
                raise ManifestError(f"built for Python {release.python}, the aircraft runs {python}")
            wheel_targets = []
            for wheel in release.wheels:
                path = f"{base}/wheels/{wheel.name}"
                info = listed.get(path)
                if info is None or info.length != wheel.size or info.hashes.get("sha256") != wheel.sha256:
                    raise ManifestError(f"{wheel.name} is not a signed target of that length and SHA-256")
                wheel_targets.append((wheel, self._target(targets, listed, path)))
            for wheel, target in wheel_targets:
                dest = where / "wheels" / wheel.name
                others = [self.layout.releases / v / "wheels" / wheel.name for v in self.layout.installed()]
                # hashing and copying tens of MB: off the event loop (the watchdog, the passengers)
                fetch = dest.exists() or not await asyncio.to_thread(reuse, dest, target, others, progress)
                if fetch and await fetch_file(session, target, dest, budget, progress) == "budget":
                    return {**result, "status": "budget"}
        except (ManifestError, Mismatch) as error:
            self.layout.refuse(version, f"refused from the ground: {error}")
            shutil.rmtree(where, ignore_errors=True)
            log.warning("release %s refused: %s", version, error)
            return {**result, "status": "refused", "error": str(error)}
        try:
            await asyncio.to_thread(install, self.layout, where, self.config.python)
        except InstallFailed as error:
            self.layout.refuse(version, f"install failed: {error}")
            shutil.rmtree(where, ignore_errors=True)
            log.warning("release %s not installed: %s", version, error)
            return {**result, "status": "refused", "error": str(error)}
        self.layout.set_pending(version)
        shutil.rmtree(where, ignore_errors=True)
        log.info("release %s installed; it goes on trial at the next safe moment", version)
        return {**result, "status": "installed"}
