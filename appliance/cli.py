"""The `appliance` command: `run` here; every other subcommand is registered by the component it belongs to
(its spec's `cli`, appliance/core/spec.py), and its module is imported only when it runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appliance import __version__, startgc
from appliance.config import EX_CONFIG, ConfigError, merge, read_toml
from appliance.core.spec import lazy

log = logging.getLogger("appliance")
EX_SOFTWARE = 70  # sysexits.h: an internal error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="appliance", description="The cabin server's in-flight entertainment daemon.")
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", type=Path, help="TOML config (default /etc/appliance/appliance.toml, none with --sim)")
    run.add_argument("--sim", action="store_true", help="start the built-in simulator for every device")
    run.add_argument("--state-dir", type=Path, default=Path(".sim-state"), help="state directory with --sim")
    run.add_argument("--scenario", default=None, help="with --sim: scenario (default [sim].scenario, day)")
    run.add_argument("--speed", type=float, default=None, help="with --sim: time compression (default [sim].speed, 1)")
    run.add_argument("--tls", action="store_true",
                     help="with --sim: serve HTTPS on 127.0.0.1:8443 with a certificate from a throwaway local CA")
    run.set_defaults(func=cmd_run)

    fsck = sub.add_parser("fsck", help="check the content store (and the state directory)")
    fsck.add_argument("--repair", action="store_true", help="quarantine what is wrong")
    fsck.add_argument("--json", action="store_true", help="machine-readable report")
    fsck.add_argument("--content", type=Path, default=None, help="content store root (default: from the config)")
    fsck.add_argument("--config", type=Path, default=None)
    fsck.add_argument("--state-dir", type=Path, default=None, help="state directory (default: from the config)")
    fsck.set_defaults(func=lazy("appliance.fsck:fsck"))  # both stores: the composition root's command

    from appliance.core.registry import load_specs

    for spec in load_specs():
        if spec.cli is not None:
            spec.cli(sub)
    return parser


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


DAEMON_UMASK = 0o027  # no write for the group, nothing for others


def cmd_run(args: argparse.Namespace) -> int:
    startgc.pause()  # before the daemon's imports: resumed once the start has ended (appliance/startgc.py)
    from appliance.appconfig import DEFAULT_PATH, load_config
    from appliance.core.context import Context
    from appliance.daemon import Daemon
    from appliance.maintenance.config import MaintenanceConfig
    from appliance.portal.config import PortalConfig

    # the daemon's own umask, whoever started it (the unit says 0027 too; a shell's 0022 would leave the journal
    # and the state files readable by every user)
    os.umask(DAEMON_UMASK)
    config_path: Path | None = args.config
    if config_path is None and not args.sim:
        config_path = DEFAULT_PATH
    sim_process = None
    try:
        defaults: dict[str, Any] = {}
        endpoints: dict[str, Any] = {}
        if args.sim:
            from appliance import simlaunch

            raw = read_toml(config_path) if config_path is not None else {}
            sim_table = raw.get("sim", {}) if isinstance(raw.get("sim"), dict) else {}
            control = str(sim_table.get("control", "127.0.0.1:9190"))
            state_dir = args.state_dir.resolve()
            state_dir.mkdir(parents=True, exist_ok=True)
            sim_process, endpoints = simlaunch.start_simulator(
                control,
                args.scenario or str(sim_table.get("scenario", "day")),
                args.speed if args.speed is not None else float(sim_table.get("speed", 1.0)),
            )
            defaults = simlaunch.sim_defaults(endpoints, state_dir)
            if args.tls:
                defaults = merge(defaults, simlaunch.sim_tls_defaults(state_dir))
            defaults["sim"] = {"control": control}
        config = load_config(config_path, defaults)
        if args.sim:
            from appliance import simlaunch

            simlaunch.ensure_token(Path(config.section(MaintenanceConfig).token_file))
            portal_config = config.section(PortalConfig)
            https = ca_pem = None
            if args.tls and portal_config.tls_listen == simlaunch.SIM_TLS_LISTEN:
                https = f"https://{simlaunch.SIM_TLS_HOST}:{simlaunch.SIM_TLS_LISTEN.rpartition(':')[2]}"
                ca_pem = (args.state_dir.resolve() / "local-ca" / "ca.pem").read_text()
            simlaunch.configure_passengers(config.sim.control, portal_config.listen, https=https, ca_pem=ca_pem)
    except ConfigError as error:
        if sim_process is not None:
            sim_process.terminate()
        print(f"appliance: config error: {error}", file=sys.stderr)
        return EX_CONFIG
    maintenance, portal = config.section(MaintenanceConfig), config.section(PortalConfig)
    announced = False
    if args.sim:
        from appliance import simlaunch

        announced = simlaunch.announce(config, config_path, args.state_dir.resolve())
        print(
            f"appliance: simulated run, state in {args.state_dir}\n"
            f"  passengers' portal:   http://{portal.listen}/\n"
            f"  maintenance health:   http://{maintenance.listen}/health\n"
            f"  maintenance metrics:  http://{maintenance.listen}/metrics"
            f"  (bearer token in {maintenance.token_file})\n"
            f"  simulator control:    http://{config.sim.control}/state\n"
            + simlaunch.engineer_commands(config, args.state_dir.resolve())
            + (f"\n  passengers' HTTPS:    https://{portal.public_host}:{portal.tls_listen.rpartition(':')[2]}/\n"
               + simlaunch.trust_hint(args.state_dir.resolve()) if args.tls and portal.tls_listen else ""),
            file=sys.stderr,
            flush=True,
        )
    ctx = Context(sim_endpoints=endpoints, config_source=config.source)
    try:
        return asyncio.run(Daemon(config, ctx, config_path=config_path, config_defaults=defaults).run())
    finally:
        if announced:
            from appliance import simdiscovery

            simdiscovery.withdraw(os.getpid())
        if sim_process is not None:
            sim_process.terminate()
            try:
                sim_process.wait(timeout=5)
            except Exception:
                sim_process.kill()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Never let a crash look like a defined exit status (fsck's 1 means "errors corrected").
        log.exception("appliance %s failed", args.command)
        return EX_SOFTWARE
