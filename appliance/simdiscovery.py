"""Where a running `appliance run --sim` is, so `appliance status` and `appliance fsck` need no flags on a
developer's machine (there is no /etc/appliance there).

A simulated daemon announces itself with a small JSON record, written atomically in two places:
    $XDG_RUNTIME_DIR/appliance/sim-<pid>.json   (else /tmp/appliance-<uid>/, made 0700 and owned by us)
    <state dir>/sim.json                         (so `./.sim-state` in the working directory also says it)
and removes the runtime one when it stops. A record whose process is gone is stale: ignored (and removed
from the runtime directory). Nothing here raises for a missing or unreadable record: it is not found.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from appliance.fs.atomic import atomic_write_text
from appliance.procs import pid_alive

RECORD_NAME = "sim.json"
DEFAULT_STATE_DIR = Path(".sim-state")
SIM_MAINTENANCE_LISTEN = "127.0.0.1:9180"  # appliance.simlaunch.SIM_LISTEN_DEFAULTS


@dataclass(frozen=True)
class SimRun:
    pid: int
    state_dir: str
    content_dir: str
    maintenance_listen: str
    token_file: str
    config: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, raw: Any) -> SimRun | None:
        if not isinstance(raw, dict):
            return None
        try:
            run = cls(
                pid=int(raw["pid"]),
                state_dir=str(raw["state_dir"]),
                content_dir=str(raw["content_dir"]),
                maintenance_listen=str(raw["maintenance_listen"]),
                token_file=str(raw["token_file"]),
                config=None if raw.get("config") is None else str(raw["config"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return run


def listen_url(listen: str) -> str:
    """The URL to reach a `HOST:PORT` listener from this machine (a wildcard address means loopback)."""
    host, _, port = listen.rpartition(":")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1", "": "127.0.0.1"}.get(host, host).strip("[]")
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Ambiguous(Exception):
    """Several simulated daemons are running and none is this directory's."""


def runtime_dir(create: bool = False) -> Path | None:
    """The per-user runtime directory for records; None when there is no safe one (a /tmp fallback that is not
    a directory we own with mode 0700 is refused: another user could plant records there)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(xdg) / "appliance" if xdg else Path(f"/tmp/appliance-{os.geteuid()}")
    try:
        if create:
            path.mkdir(mode=0o700, parents=bool(xdg), exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        return None
    return path


def announce(run: SimRun) -> list[Path]:
    """Write the record in the runtime directory and the state directory; the paths written. An OSError on
    either is skipped (discovery is a convenience: the banner also prints the explicit commands)."""
    text = json.dumps(run.as_dict(), indent=1) + "\n"
    written: list[Path] = []
    directory = runtime_dir(create=True)
    targets = [Path(run.state_dir) / RECORD_NAME]
    if directory is not None:
        targets.insert(0, directory / f"sim-{run.pid}.json")
    for target in targets:
        try:
            atomic_write_text(target, text, mode=0o600)
        except OSError:
            continue
        written.append(target)
    return written


def withdraw(pid: int) -> None:
    """Remove this process's runtime record (the state directory's stays: it says where the state is)."""
    directory = runtime_dir()
    if directory is not None:
        with contextlib.suppress(OSError):
            (directory / f"sim-{pid}.json").unlink()



def _read(path: Path) -> SimRun | None:
    try:
        return SimRun.parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def running() -> list[SimRun]:
    """The simulated daemons that are running now (stale records are removed)."""
    directory = runtime_dir()
    if directory is None:
        return []
    found = []
    for path in sorted(directory.glob("sim-*.json")):
        run = _read(path)
        if run is None or not pid_alive(run.pid):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        found.append(run)
    return found


def find(cwd: Path | None = None) -> SimRun | None:
    """The simulated run to talk to: the one running daemon, or the one whose state is this directory's
    `.sim-state`; else `.sim-state/sim.json` of the working directory (a daemon that has stopped, or whose
    runtime record is gone). Raises Ambiguous when several run and none is this directory's."""
    here = (cwd or Path.cwd()) / DEFAULT_STATE_DIR
    live = running()
    if len(live) == 1:
        return live[0]
    mine = [run for run in live if Path(run.state_dir).resolve() == here.resolve()]
    if mine:
        return mine[0]
    if live:
        listing = ", ".join(f"pid {run.pid} (state in {run.state_dir})" for run in live)
        raise Ambiguous(f"several simulated daemons are running: {listing}; say which with --config or --url")
    if not here.is_dir():
        return None
    return _read(here / RECORD_NAME) or SimRun(  # a state directory from before records: the --sim defaults
        pid=0,
        state_dir=str(here.resolve()),
        content_dir=str((here / "content").resolve()),
        maintenance_listen=SIM_MAINTENANCE_LISTEN,
        token_file=str((here / "maintenance.token").resolve()),
    )
