"""`appliance network render [--config PATH] --out DIR`: exit 0 (files written), 78 on a bad config (one line
on stderr naming the file and key), 1 when DIR cannot be written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.config import EX_CONFIG, ConfigError
from appliance.network.config import NetworkConfig
from appliance.network.render import Ports, render


def listen_port(value: str, default: int) -> int:
    _, sep, port = value.rpartition(":")
    return int(port) if sep and port.isdigit() else default


def ports_of(config: object) -> Ports:
    """The portal's and the maintenance listener's ports and the portal's public name, from their sections
    (read by name: this package imports no other component)."""
    by_name = getattr(config, "by_name")  # noqa: B009 - AppConfig, typed loosely to keep the layering
    portal, maintenance = by_name("portal"), by_name("maintenance")
    return Ports(http=listen_port(portal.listen, 80), https=listen_port(portal.tls_listen or "0.0.0.0:443", 443),
                 maintenance=listen_port(maintenance.listen, 9180), public_host=portal.public_host)


def rendered(config_path: Path | None) -> dict[str, str]:
    """What the config renders to. Raises ConfigError."""
    from appliance.appconfig import DEFAULT_PATH, load_config

    config = load_config(config_path if config_path is not None else DEFAULT_PATH)
    network = config.by_name("network")
    assert isinstance(network, NetworkConfig)
    return render(network, ports_of(config), config.source)


def cmd_render(args: argparse.Namespace) -> int:
    try:
        files = rendered(args.config)
    except ConfigError as error:
        print(f"appliance: config error: {error}", file=sys.stderr)
        return EX_CONFIG
    out = Path(args.out)
    try:
        from appliance.fs.atomic import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            atomic_write_text(out / name, text, mode=0o644)
    except OSError as error:
        print(f"appliance: network render: {out}: {error}", file=sys.stderr)
        return 1
    print(f"appliance: wrote {', '.join(str(out / n) for n in files)}")
    return 0
