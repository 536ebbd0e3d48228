"""Installing a release offline into `<root>/releases/<version>/`: a venv made with `python -m venv`, then
`pip install --no-index --find-links wheels/` of the release's own wheels (never the network; pip itself run
from the release's pip wheel when it carries one, as `appliance release build` makes it), then everything
flushed (os.sync) and `.complete` written last. Nothing of the running release is touched.

A venv is not relocatable (its scripts name its interpreter by absolute path), so it is built where it will
run; a directory there without `.complete` is the remains of a cut install, removed before the next attempt
and never activated (appliance.update.layout). Failures raise InstallFailed with pip's last lines; the half
install is removed.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from appliance.fs.atomic import atomic_write_bytes
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir
from appliance.update.layout import COMPLETE, Layout
from appliance.update.manifest import MANIFEST, Release, parse


class InstallFailed(Exception):
    """The release could not be installed (the message says why); nothing was activated."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_wheels(source: Path, release: Release) -> None:
    """Every wheel the manifest lists, with its size and SHA-256. Raises InstallFailed."""
    for wheel in release.wheels:
        path = source / "wheels" / wheel.name
        if not path.is_file() or path.stat().st_size != wheel.size or sha256_of(path) != wheel.sha256:
            raise InstallFailed(f"{wheel.name}: missing or not the wheel the manifest lists")


Populate = Callable[[Path, Path, Release, str, float], None]


def venv_populate(dest: Path, source: Path, release: Release, python: str, timeout: float) -> None:
    """The venv at `dest` with the release installed in it, its wheels and its manifest beside."""
    pip = [w.name for w in release.wheels if w.name.lower().startswith("pip-")]
    _run([python, "-m", "venv", *(["--without-pip"] if pip else []), str(dest)], timeout)
    shutil.copytree(source / "wheels", dest / "wheels")
    # pip run from the release's own wheel: no ensurepip, no network, and no pip left in the venv (the next
    # release brings its own)
    runner = [str(dest / "wheels" / pip[0] / "pip")] if pip else ["-m", "pip"]
    _run([str(dest / "bin" / "python"), *runner, "install", "--no-index", "--no-cache-dir",
          "--disable-pip-version-check", "--find-links", str(dest / "wheels"), release.requirement], timeout)
    shutil.copyfile(source / MANIFEST, dest / MANIFEST)


def install(layout: Layout, source: Path, python: str, *, ops: FileOps = REAL_OPS, timeout: float = 600.0,
            populate: Populate | None = None) -> str:
    """Install the release in `source` (release.json + wheels/); returns its version. Idempotent: an installed
    release is left as it is. `populate` makes the tree (default: venv_populate); everything after it (the
    flush, the `.complete` marker) is the same for any tree."""
    try:
        release = parse((source / MANIFEST).read_bytes())
    except OSError as error:
        raise InstallFailed(f"{source / MANIFEST}: {error}") from None
    dest = layout.releases / release.version
    if layout.complete(release.version):
        return release.version
    check_wheels(source, release)
    ensure_dir(layout.releases, ops)
    if dest.exists():
        shutil.rmtree(dest)  # the remains of a cut install
    try:
        (populate or venv_populate)(dest, source, release, python, timeout)
        ops.sync()  # every file of the venv on disk before it is marked whole
        atomic_write_bytes(dest / COMPLETE, release.version.encode() + b"\n", ops=ops)
        ops.fsync_dir(layout.releases)
    except BaseException:
        if not layout.complete(release.version):
            shutil.rmtree(dest, ignore_errors=True)
        raise
    return release.version


def _run(argv: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InstallFailed(f"{argv[0]}: {error}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise InstallFailed(f"{' '.join(argv[:4])}... exited {done.returncode}: {tail}")
