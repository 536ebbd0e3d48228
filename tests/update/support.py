"""Small real releases for the update tests, built offline: a tiny package `cabinprobe` (a real wheel, built
by pip from a generated project) plus pip's own wheel from ensurepip, made into a release by the real
`appliance release build` (appliance.update.cli.build) with --no-index, so pip never asks the network.

`cabinprobe` installs the console script `appliance`; what it does is the release's "behaviour":

- good       runs the real daemon of this checkout (`appliance.cli:main`, importable through PYTHONPATH: the
             supervisor's environment), so the release serves passengers and runs its own trial
- exit       exits 1 at once (a release that exits at start)
- noready    never sends READY (sleeps: systemd's TimeoutStartSec kills it)
- healthfail the real daemon with one more critical component whose health fails two seconds after start
"""

from __future__ import annotations

import ensurepip
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from appliance.update.cli import build

PIP_WHEELS = Path(os.path.dirname(ensurepip.__file__)) / "_bundled"

PROBE = '''
"""cabinprobe {version}: a test release ({behaviour})."""
import sys, time

BEHAVIOUR = "{behaviour}"
VERSION = "{version}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "release":  # the preflight is the committed release's real one
        from appliance.cli import main as real
        sys.exit(real())
    if BEHAVIOUR == "exit":
        print("cabinprobe: exiting at start", file=sys.stderr)
        sys.exit(1)
    if BEHAVIOUR == "noready":
        time.sleep(3600)
    if BEHAVIOUR == "healthfail":
        import appliance.core.registry as registry
        registry.load_specs.__defaults__ = (registry.PACKAGES + ("cabinprobe.sick",),)
    from appliance.cli import main as real
    sys.exit(real())
'''

SICK = '''
"""A critical component that fails its health two seconds after it started (the bug of a bad release)."""
import time
from appliance.component import Check
from appliance.core.spec import ComponentSpec


class Sick:
    name = "sick"

    def __init__(self):
        self.started = 0.0

    async def start(self):
        self.started = time.monotonic()

    async def stop(self):
        pass

    def health(self):
        if time.monotonic() - self.started > 2.0:
            return Check.failing("the new release's bug")
        return Check.passing()


COMPONENT = ComponentSpec(name="sick", build=lambda setup: Sick(), critical=True)
'''


def probe_release(tmp: Path, version: str, behaviour: str = "good",
                  state_formats: dict[str, Any] | None = None) -> Path:
    """Build release `version` of cabinprobe into tmp/releases-built/; returns appliance-<version>/."""
    project = tmp / "src" / f"cabinprobe-{version}"
    package = project / "cabinprobe"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(PROBE.format(version=version, behaviour=behaviour)))
    (package / "sick.py").write_text(textwrap.dedent(SICK))
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "cabinprobe"
        version = "{version}"

        [project.scripts]
        appliance = "cabinprobe:main"

        [tool.setuptools]
        packages = ["cabinprobe"]
        """))
    return build(tmp / "releases-built", source=project, name="cabinprobe", python=sys.executable,
                 find_links=[PIP_WHEELS], no_index=True, state_formats=state_formats)


def release_env(**extra: str) -> dict[str, str]:
    """A release's environment in the tests: the checkout and this venv's packages importable (a real release
    carries them as wheels; the test releases carry only cabinprobe and pip, to stay small and fast)."""
    import site

    env = dict(os.environ)
    paths = [str(Path(__file__).resolve().parents[2]), *site.getsitepackages()]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None,
            binary: Path | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(binary)] if binary is not None else [sys.executable, "-m", "appliance"]
    return subprocess.run([*argv, *args], capture_output=True, text=True, env=env or release_env(), timeout=120,
                          check=False)
