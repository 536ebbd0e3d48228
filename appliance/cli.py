"""The `appliance` command. Each subcommand's work lives beside the component it belongs to."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.config import EX_CONFIG, ConfigError, read_toml

log = logging.getLogger("appliance")
EX_SOFTWARE = 70  # sysexits.h: an internal error


def _lazy(target: str) -> Callable[[argparse.Namespace], int]:
    """Import a subcommand's module only when it runs, so `appliance decode` does not load aiohttp."""

    def run(args: argparse.Namespace) -> int:
        module_name, _, function_name = target.partition(":")
        function: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module_name), function_name)
        return function(args)

    return run


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
    run.set_defaults(func=cmd_run)

    decode = sub.add_parser("decode", help="decode adapter-framed ARINC 429 bytes to JSON lines")
    decode.add_argument("--stats", action="store_true", help="print only a final JSON summary")
    decode.add_argument("file", nargs="?", default="-", help="a capture or raw byte file, or - for stdin")
    decode.set_defaults(func=_lazy("appliance.avionics.decode_cli:main"))

    capture = sub.add_parser("capture", help="record raw adapter bytes with receive times")
    capture.add_argument("--port", required=True, help="pyserial URL of the adapter")
    capture.add_argument("--out", required=True, type=Path)
    capture.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until ^C)")
    capture.add_argument("--baudrate", type=int, default=921600)
    capture.set_defaults(func=_lazy("appliance.avionics.capture_cli:capture"))

    replay = sub.add_parser("replay", help="play a recording back through the real reader")
    replay.add_argument("file", type=Path)
    replay.add_argument("--speed", type=float, default=1.0, help="time compression (0 = as fast as possible)")
    replay.set_defaults(func=_lazy("appliance.avionics.capture_cli:replay"))

    fsck = sub.add_parser("fsck", help="check the content store (and the state directory)")
    fsck.add_argument("--repair", action="store_true", help="quarantine what is wrong")
    fsck.add_argument("--json", action="store_true", help="machine-readable report")
    fsck.add_argument("--content", type=Path, default=None, help="content store root (default: from the config)")
    fsck.add_argument("--config", type=Path, default=None)
    fsck.add_argument("--state-dir", type=Path, default=None, help="state directory (default: from the config)")
    fsck.set_defaults(func=_lazy("appliance.content.cli:fsck"))

    content = sub.add_parser("content", help="content bundles")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    pack = content_sub.add_parser("pack", help="build a bundle (manifest + files) from a directory")
    pack.add_argument("src", type=Path)
    pack.add_argument("dest", type=Path)
    pack.add_argument("--bundle-id", default=None)
    pack.add_argument("--priority", action="append", metavar="CATEGORY=N", help="fetch order of a top-level dir")
    pack.add_argument("--publish", action="store_true", help="make it the current bundle in DEST's index.json")
    pack.set_defaults(func=_lazy("appliance.content.cli:pack"))
    install = content_sub.add_parser("install", help="verify a bundle made by `content pack` and make it active")
    install.add_argument("bundle", type=Path, help="the bundle's directory (manifest.json and its files)")
    install.add_argument("--config", type=Path, default=None, help="for [content].dir (default: as fsck finds it)")
    install.add_argument("--content", type=Path, default=None, help="content store root (default: from the config)")
    install.set_defaults(func=_lazy("appliance.content.cli:install"))

    status = sub.add_parser("status", help="ask the running daemon for a summary")
    status.add_argument("--json", action="store_true")
    status.add_argument("--config", type=Path, default=None)
    status.add_argument("--url", default=None, help="maintenance listener URL (default: from the config)")
    status.add_argument("--token-file", type=Path, default=None)
    status.set_defaults(func=_lazy("appliance.maintenance.status_cli:main"))
    return parser


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.appconfig import DEFAULT_PATH, load_config
    from appliance.daemon import Context, Daemon

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
            defaults["sim"] = {"control": control}
        config = load_config(config_path, defaults)
        if args.sim:
            from appliance import simlaunch

            simlaunch.ensure_token(Path(config.maintenance.token_file))
            simlaunch.configure_passengers(config.sim.control, config.portal.listen)
    except ConfigError as error:
        if sim_process is not None:
            sim_process.terminate()
        print(f"appliance: config error: {error}", file=sys.stderr)
        return EX_CONFIG
    announced = False
    if args.sim:
        from appliance import simlaunch

        announced = simlaunch.announce(config, config_path, args.state_dir.resolve())
        print(
            f"appliance: simulated run, state in {args.state_dir}\n"
            f"  passengers' portal:   http://{config.portal.listen}/\n"
            f"  maintenance health:   http://{config.maintenance.listen}/health\n"
            f"  maintenance metrics:  http://{config.maintenance.listen}/metrics"
            f"  (bearer token in {config.maintenance.token_file})\n"
            f"  simulator control:    http://{config.sim.control}/state\n"
            + simlaunch.engineer_commands(config, args.state_dir.resolve()),
            file=sys.stderr,
            flush=True,
        )
    ctx = Context(config=config, config_path=config_path, sim_endpoints=endpoints, config_defaults=defaults)
    try:
        return asyncio.run(Daemon(ctx).run())
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
