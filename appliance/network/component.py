"""The network component in the daemon: nothing runs here (dnsmasq and nftables do the work); its health says
whether the files they were started with are in `network.rendered_dir` (the image's units render them from
this same config before starting dnsmasq and nftables, at every boot)."""

from __future__ import annotations

from pathlib import Path

from appliance.component import Check
from appliance.core.spec import Setup
from appliance.network.config import NetworkConfig


class NetworkCheck:
    name = "network"
    critical = False

    def __init__(self, config: NetworkConfig) -> None:
        self.config = config

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def health(self) -> Check:
        if not self.config.rendered_dir:
            return Check.passing("the cabin network is not managed by this host (network.rendered_dir unset)")
        directory = Path(self.config.rendered_dir)
        missing = [n for n in ("dnsmasq.conf", "appliance.nft") if not (directory / n).is_file()]
        if missing:
            return Check.warning(f"not rendered: {', '.join(missing)} missing in {directory} "
                                 "(appliance network render)")
        return Check.passing(f"rendered in {directory}", interface=self.config.cabin_interface)


def build(setup: Setup[NetworkConfig]) -> NetworkCheck:
    return NetworkCheck(setup.config)
