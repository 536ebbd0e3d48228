"""network: the cabin and maintenance networks, as one `[network]` section that `appliance network render`
turns into dnsmasq's and nftables' configuration (so the daemon, dnsmasq and nftables cannot disagree).

A config-only component: its section is checked with the rest of the config, and its CLI renders it. The
daemon builds it (a small health check: the rendered files are in `network.rendered_dir`, when set).
Modules: `config`, `render`, `cli`, `component`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.core.spec import ComponentSpec, deferred, lazy
from appliance.network.config import NetworkConfig


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    network = sub.add_parser("network", help="the cabin network (dnsmasq, nftables)")
    actions = network.add_subparsers(dest="network_command", required=True)
    render = actions.add_parser("render", help="write dnsmasq.conf and appliance.nft from [network]")
    render.add_argument("--config", type=Path, default=None,
                        help="TOML config (default /etc/appliance/appliance.toml)")
    render.add_argument("--out", required=True, help="directory to write into (created)")
    render.set_defaults(func=lazy("appliance.network.cli:cmd_render"))


COMPONENT = ComponentSpec(
    name="network",
    config=NetworkConfig,
    build=deferred("appliance.network.component:build"),
    cli=_cli,
)
