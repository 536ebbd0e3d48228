"""`appliance release build|status|rollback|preflight|install`.

Exit status: 0 done; 1 nothing to roll back to, or a build/install that failed (one line on stderr why);
78 a config that cannot be read. `preflight` always exits 0 once the config is read (what it decided is on
stdout): it must never keep the committed release from starting.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from appliance.config import ConfigError, build_section, read_toml
from appliance.fs import formats
from appliance.update.config import UpdateConfig
from appliance.update.layout import Layout
from appliance.update.manifest import MANIFEST, Release, Wheel, dir_name, parse

DEFAULT_CONFIG = Path("/etc/appliance/appliance.toml")
DEFAULT_STATE = "/var/lib/appliance"
EX_CONFIG = 78


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    release = sub.add_parser("release", help="the daemon's own releases: build, status, rollback")
    rsub = release.add_subparsers(dest="release_command", required=True)

    build = rsub.add_parser("build", help="build a release: the wheel and every dependency's wheel")
    build.add_argument("outdir", type=Path)
    build.add_argument("--source", type=Path, default=Path("."), help="the project to build (default: .)")
    build.add_argument("--name", default="appliance", help="the distribution the release installs")
    build.add_argument("--python", default=sys.executable, help="the aircraft's Python (runs pip wheel)")
    build.add_argument("--find-links", type=Path, action="append", default=[], help="local wheels to use")
    build.add_argument("--no-index", action="store_true", help="never ask PyPI (only --find-links)")
    build.add_argument("--extra", default="", help="the extra to install with it (the image: aircraft)")
    build.add_argument("--state-formats", default=None, help="JSON: override the state formats it declares")
    build.set_defaults(func=cmd_build)

    for name, helptext, func in (("status", "current, previous, trial, installed, refused", cmd_status),
                                 ("rollback", "go back to the previous release", cmd_rollback),
                                 ("preflight", "count a start, roll back a failing trial", cmd_preflight)):
        parser = rsub.add_parser(name, help=helptext)
        parser.add_argument("--config", type=Path, default=None)
        if name == "status":
            parser.add_argument("--json", action="store_true")
        parser.set_defaults(func=func)

    inst = rsub.add_parser("install", help="install a release directory offline (the first one becomes current)")
    inst.add_argument("release_dir", type=Path)
    inst.add_argument("--config", type=Path, default=None)
    inst.set_defaults(func=cmd_install)


def _layout(args: argparse.Namespace) -> tuple[Layout, UpdateConfig]:
    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    raw = read_toml(path) if path is not None else {}
    table, storage = raw.get("update", {}), raw.get("storage", {})
    if not isinstance(table, dict) or not isinstance(storage, dict):
        raise ConfigError(str(path), "update", "expected a table")
    config = build_section(UpdateConfig, table, str(path), "update")
    state = storage.get("dir", DEFAULT_STATE)
    if not isinstance(state, str):
        raise ConfigError(str(path), "storage.dir", "expected a path")
    return Layout(Path(config.root), Path(state), max_starts=config.max_starts), config


def _with_layout(args: argparse.Namespace) -> tuple[Layout, UpdateConfig] | int:
    try:
        return _layout(args)
    except ConfigError as error:
        print(f"appliance release: {error}", file=sys.stderr)
        return EX_CONFIG


def cmd_status(args: argparse.Namespace) -> int:
    got = _with_layout(args)
    if isinstance(got, int):
        return got
    status = got[0].status()
    if args.json:
        print(json.dumps(status, sort_keys=True))
        return 0
    for key in ("current", "committed", "previous", "pending"):
        print(f"{key}: {status[key] or '-'}")
    trial = status["trial"]
    print(f"trial: {trial['version']} (start {trial['starts']} of {trial['max_starts']})" if trial and "version" in
          trial else f"trial: {trial['error'] if trial else '-'}")
    print(f"installed: {', '.join(status['installed']) or '-'}")
    for version, reason in sorted(status["refused"].items()):
        print(f"refused: {version}: {reason}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    got = _with_layout(args)
    if isinstance(got, int):
        return got
    now = got[0].rollback()
    if now is None:
        print("appliance release: nothing to roll back to", file=sys.stderr)
        return 1
    print(f"appliance release: {now} is current; restart the service to run it (systemctl restart appliance)")
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    got = _with_layout(args)
    if isinstance(got, int):
        return got
    try:
        print(f"appliance release preflight: {got[0].preflight()}", flush=True)
    except OSError as error:  # never keep the service from starting
        print(f"appliance release preflight: could not update the release state: {error}", file=sys.stderr)
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from appliance.update.install import InstallFailed, install

    got = _with_layout(args)
    if isinstance(got, int):
        return got
    layout, config = got
    try:
        version = install(layout, args.release_dir, config.python)
        if layout.link("committed") is None:
            layout.mark_installed()
            print(f"appliance release: {version} installed and current")
        else:
            layout.set_pending(version)
            print(f"appliance release: {version} installed; it goes on trial at the next safe moment or boot")
    except (InstallFailed, OSError, ValueError) as error:
        print(f"appliance release: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    try:
        out = build(args.outdir, source=args.source, name=args.name, python=args.python,
                    find_links=args.find_links, no_index=args.no_index, extra=args.extra,
                    state_formats=json.loads(args.state_formats) if args.state_formats else None)
    except (BuildFailed, OSError, ValueError) as error:
        print(f"appliance release build: {error}", file=sys.stderr)
        return 1
    print(out)
    return 0


class BuildFailed(Exception):
    """pip could not build or fetch a wheel (its last lines say why)."""


def build(outdir: Path, *, source: Path, name: str = "appliance", python: str = sys.executable,
          find_links: list[Path] | None = None, no_index: bool = False, extra: str = "",
          state_formats: dict[str, Any] | None = None) -> Path:
    """`pip wheel` the project and its dependencies, then write `OUTDIR/appliance-<version>/` with wheels/
    and release.json. Returns that directory."""
    from appliance.update.install import sha256_of

    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=outdir))
    try:
        argv = [python, "-m", "pip", "wheel", "--disable-pip-version-check", "--wheel-dir", str(work / "wheels")]
        for links in find_links or []:
            argv += ["--find-links", str(links)]
        if no_index:
            argv += ["--no-index", "--no-build-isolation"]
        # pip too: the install runs pip from the release's own wheel (appliance.update.install)
        project = str(source.resolve()) + (f"[{extra}]" if extra else "")
        done = subprocess.run([*argv, project, "pip"], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BuildFailed(" | ".join(done.stderr.strip().splitlines()[-3:]))
        norm = name.replace("-", "_").lower()
        own = [p for p in (work / "wheels").glob("*.whl") if p.name.lower().startswith(norm + "-")]
        if len(own) != 1:
            raise BuildFailed(f"expected one wheel of {name}, found {[p.name for p in own]}")
        version = own[0].name.split("-")[1]
        pyver = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=True).stdout.strip()
        wheels = tuple(Wheel(p.name, p.stat().st_size, sha256_of(p)) for p in sorted((work / "wheels").glob("*.whl")))
        release = Release(version, pyver, f"{name}{f'[{extra}]' if extra else ''}=={version}",
                          formats.parse_declared(state_formats) if state_formats else formats.declared(), wheels)
        (work / MANIFEST).write_bytes(release.to_json())
        parse(release.to_json())  # what we wrote is a manifest
        dest = outdir / dir_name(version)
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)
