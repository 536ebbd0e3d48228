"""`appliance run --sim`: start the built-in simulator and turn what it prints into config defaults.

The simulator runs as its own process (`python -m firmware_sim`), so its devices are reached through their
real doors (ptys, sockets, HTTP) exactly as on the aircraft, and its load does not count as the daemon's.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.config import dotted_to_tables, merge
from appliance.fs.atomic import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from appliance.appconfig import AppConfig

SIM_LISTEN_DEFAULTS = {
    "portal": {"listen": "127.0.0.1:8080"},
    "maintenance": {"listen": "127.0.0.1:9180"},
}


class SimulatorFailed(RuntimeError):
    pass


def start_simulator(control: str, scenario: str, speed: float, timeout: float = 30.0) -> tuple[
    subprocess.Popen[bytes], dict[str, Any]
]:
    """Start `python -m firmware_sim` and return the process and the JSON line it printed."""
    argv = [sys.executable, "-m", "firmware_sim", "--control", control, "--scenario", scenario, "--speed", str(speed)]
    # Its own session, so a Ctrl-C at the terminal reaches only the daemon, which stops the simulator after its
    # own components; and a parent-death signal, so a killed daemon never leaves a simulator behind.
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent  # noqa: PLW1509 - no threads yet
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    if not line or time.monotonic() > deadline:
        process.kill()
        raise SimulatorFailed(f"the simulator exited before saying where its devices are (status {process.poll()})")
    try:
        endpoints = json.loads(line)
    except json.JSONDecodeError as error:
        process.kill()
        raise SimulatorFailed(f"the simulator printed {line[:200]!r}: {error}") from None
    return process, endpoints


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the daemon still stops the simulator on every orderly exit


def sim_defaults(endpoints: dict[str, Any], state_dir: Path) -> dict[str, Any]:
    """Config defaults for a simulated run: the simulator's devices, a local state directory, local listeners."""
    known = known_config_keys()
    config_keys = {k: v for k, v in endpoints.items() if k in known}
    defaults = merge(SIM_LISTEN_DEFAULTS, dotted_to_tables(config_keys))
    defaults = merge(
        defaults,
        {
            "storage": {"dir": str(state_dir)},
            "content": {"dir": str(state_dir / "content")},
            "maintenance": {"token_file": str(state_dir / "maintenance.token"), "debug_hooks": True},
        },
    )
    return defaults


def known_config_keys() -> set[str]:
    """Every `section.key` the config accepts (the simulator also prints keys that are only informative)."""
    from appliance.appconfig import CORE_SECTIONS
    from appliance.core.registry import load_specs

    sections = dict(CORE_SECTIONS) | {spec.name: spec.config for spec in load_specs() if spec.config is not None}
    return {f"{name}.{key.name}" for name, cls in sections.items() for key in dataclasses.fields(cls)}


def ensure_token(path: Path) -> str:
    """The maintenance token for a simulated run: made once, kept 0600."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    atomic_write_text(path, token + "\n", mode=0o600)
    return token


def announce(config: AppConfig, config_path: Path | None, state_dir: Path) -> bool:
    """Record where this simulated run is (appliance.simdiscovery), so `appliance status` and `appliance fsck`
    find it without flags; False when no record could be written."""
    from appliance import simdiscovery
    from appliance.content.config import ContentConfig
    from appliance.maintenance.config import MaintenanceConfig

    maintenance = config.section(MaintenanceConfig)
    run = simdiscovery.SimRun(
        pid=os.getpid(),
        state_dir=str(state_dir),
        content_dir=str(Path(config.section(ContentConfig).dir).resolve()),
        maintenance_listen=maintenance.listen,
        token_file=str(Path(maintenance.token_file).resolve()),
        config=str(config_path.resolve()) if config_path is not None else None,
    )
    return bool(simdiscovery.announce(run))


def engineer_commands(config: AppConfig, state_dir: Path) -> str:
    """The banner's lines with the exact commands for this run (plain `appliance status` also finds it)."""
    from appliance.content.config import ContentConfig
    from appliance.maintenance.config import MaintenanceConfig
    from appliance.simdiscovery import listen_url

    maintenance = config.section(MaintenanceConfig)
    url = listen_url(maintenance.listen)
    token = Path(maintenance.token_file).resolve()
    content = Path(config.section(ContentConfig).dir).resolve()
    return (
        f"  status:               appliance status --url {url} --token-file {token}\n"
        f"  content check:        appliance fsck --content {content} --state-dir {state_dir}"
    )


SIM_TLS_LISTEN = "127.0.0.1:8443"
SIM_TLS_HOST = "localhost"


def sim_tls_defaults(state_dir: Path) -> dict[str, Any]:
    """`appliance run --sim --tls`: a throwaway local CA in `<state dir>/local-ca` (made once, kept), a
    certificate it signs for localhost and 127.0.0.1 (renewed at every start), and the portal keys that serve
    it on 127.0.0.1:8443. Raises OSError when the state directory cannot be written."""
    from appliance.tlsca import LocalCA

    ca = LocalCA.load_or_create(state_dir / "local-ca")
    issued = ca.issue([SIM_TLS_HOST, "127.0.0.1"], days=20)
    tls = state_dir / "local-ca" / "portal"
    tls.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(tls / "cert.pem", issued.cert_pem)
    atomic_write_bytes(tls / "key.pem", issued.key_pem, mode=0o600)
    return {"portal": {"tls_listen": SIM_TLS_LISTEN, "public_host": SIM_TLS_HOST, "tls_cert": str(tls / "cert.pem"),
                       "tls_key": str(tls / "key.pem")}}


def trust_hint(state_dir: Path) -> str:
    """How to trust the throwaway CA (printed by `appliance run --sim --tls`)."""
    ca = state_dir / "local-ca" / "ca.pem"
    return (f"  HTTPS: trust the throwaway CA {ca} (curl --cacert {ca}; Chromium: certutil -d sql:$HOME/.pki/nssdb "
            f"-A -t C,, -n appliance-sim -i {ca}; Firefox: Settings > Certificates > Import). It signs nothing "
            f"but this simulator's certificate; delete {state_dir / 'local-ca'} to make a new one.")


def configure_passengers(control: str, portal_listen: str, orders_per_minute: float = 6.0,
                         https: str | None = None, ca_pem: str | None = None) -> None:
    """Point the simulator's passengers at the portal (they order through its real API during the flight):
    over HTTPS (`https` = "https://HOST:PORT", its CA in `ca_pem`) when it serves, else over HTTP."""
    host, _, port = portal_listen.rpartition(":")
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    settings: dict[str, Any] = {"portal": https or f"http://{host}:{port}", "orders_per_minute": orders_per_minute}
    if ca_pem is not None:
        settings["ca_pem"] = ca_pem
    body = json.dumps(settings).encode()
    request = urllib.request.Request(
        f"http://{control}/passengers", data=body, method="PUT", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
