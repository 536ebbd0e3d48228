"""The files the image adds to a plain Debian root: units, udev rules, sshd, the config-pull timer, the default
config. Written by `write_overlay` into a directory that mirrors `/`; a fast test checks them statically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNITS = REPO / "units"
VENV = "/opt/appliance"  # releases/<version>/ (one venv each), current, committed, previous


@dataclass(frozen=True)
class UsbId:
    vendor: str
    product: str
    interface: str | None = None  # bInterfaceNumber of the AT port on a multi-port modem


@dataclass(frozen=True)
class ImageOptions:
    ssh_port: int = 2222
    avionics: UsbId = UsbId("0403", "6001")  # the ARINC 429 adapter's USB serial bridge (FTDI FT232R)
    modem_at: UsbId = UsbId("12d1", "1506", "02")  # the 3G modem's AT port (Huawei, interface 2)
    config_repo: str = ""  # ansible-pull repository; empty: the timer waits for /etc/appliance/config-pull.env
    hostname: str = "cabin-server"


UDEV_RULES = """\
# Stable names for the devices the appliance daemon reads (installed by the appliance image).
# ModemManager is kept off both: the daemon speaks AT to the modem itself, and nothing may ever write to the
# avionics adapter (the bus is read-only), which ModemManager's probing would do.
SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{av.vendor}", ATTRS{{idProduct}}=="{av.product}", \\
  SYMLINK+="avionics", GROUP="dialout", MODE="0660", ENV{{ID_MM_DEVICE_IGNORE}}="1"
SUBSYSTEM=="tty", ENV{{ID_VENDOR_ID}}=="{at.vendor}", ENV{{ID_MODEL_ID}}=="{at.product}", \\
  ENV{{ID_USB_INTERFACE_NUM}}=="{at.interface}", \\
  SYMLINK+="modem-at", GROUP="dialout", MODE="0660", ENV{{ID_MM_DEVICE_IGNORE}}="1"
# Discretes (GPIO character devices) and sensors (I2C buses) for the daemon's supplementary groups.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
SUBSYSTEM=="i2c-dev", KERNEL=="i2c-[0-9]*", GROUP="i2c", MODE="0660"
"""

SSHD_CONFIG = """\
# Engineers log in with keys only, on a non-default port (installed by the appliance image).
Port {ssh_port}
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin prohibit-password
X11Forwarding no
AllowTcpForwarding local
MaxAuthTries 3
"""

SSH_HOST_KEYS = """\
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""

CONFIG_PULL_SERVICE = """\
[Unit]
Description=Pull the appliance's configuration (ansible-pull)
Documentation=https://docs.ansible.com/ansible/latest/cli/ansible-pull.html
# Only once a repository is configured for this aircraft.
ConditionPathExists=/etc/appliance/config-pull.env
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
EnvironmentFile=/etc/appliance/config-pull.env
ExecStart=/usr/bin/ansible-pull --url ${{APPLIANCE_CONFIG_REPO}} --checkout ${{APPLIANCE_CONFIG_BRANCH}} \\
  --directory /var/lib/appliance-config-pull --only-if-changed --inventory localhost, ${{APPLIANCE_CONFIG_PLAYBOOK}}
StateDirectory=appliance-config-pull
TimeoutStartSec=20min
Nice=10
"""

CONFIG_PULL_TIMER = """\
[Unit]
Description=Pull the appliance's configuration now and then (ansible-pull)

[Timer]
OnBootSec=5min
OnUnitActiveSec=30min
RandomizedDelaySec=5min
Persistent=true

[Install]
WantedBy=timers.target
"""

CONFIG_PULL_ENV = """\
# Copy to /etc/appliance/config-pull.env to enable the config-pull timer (ansible-pull).
APPLIANCE_CONFIG_REPO={repo}
APPLIANCE_CONFIG_BRANCH=main
APPLIANCE_CONFIG_PLAYBOOK=local.yml
"""

DEFAULT_CONFIG = """\
# The appliance daemon's config on the aircraft (see the README for every key).
[avionics]
port = "/dev/avionics"

[modem]
port = "/dev/modem-at"

[discretes]
pin_factory = "lgpio"

[sensors]
bus = "1"

[storage]
dir = "/var/lib/appliance"

[content]
dir = "/var/lib/appliance/content"

[groundlink]
url = "https://ground.example.invalid/"

[portal]
listen = "0.0.0.0:80"
# HTTPS (docs/tls.md): port 443 is appliance-portal-tls.socket's; the certificate for public_host arrives from
# the ground as a signed target. Until one is installed the portal serves plain HTTP and health warns.
tls_listen = "0.0.0.0:443"
public_host = "portal.cabin.invalid"

[maintenance]
listen = "0.0.0.0:9180"
token_file = "/etc/appliance/maintenance.token"
# The aircraft's maintenance network and VPN: nobody else reaches the listener (not even /livez), so the cabin
# Wi-Fi cannot even try tokens. A non-loopback listener with an empty list refuses to start unless
# allow_any = true says so on purpose.
allow_from = ["10.20.0.0/16"]

[network]
# The cabin network (appliance-network.service renders it for appliance-dnsmasq and appliance-nftables)
cabin_interface = "br-cabin"
cabin_ports = ["wlan*", "cabin*"]
cabin_address = "10.77.0.1/22"
dhcp_start = "10.77.0.20"
dhcp_end = "10.77.3.250"
maintenance_interface = "eth0"
maintenance_networks = ["10.20.0.0/16"]
ssh_port = 2222  # write_overlay puts ImageOptions.ssh_port here
rendered_dir = "/run/appliance-network"
"""

NETWORK = """\
[Match]
Name=en* eth*

[Network]
DHCP=yes
"""

SERVICES_TO_ENABLE = [
    "appliance.service",
    "appliance-portal.socket",
    "appliance-maintenance.socket",
    "appliance-token.service",
    "appliance-portal-tls.socket",
    "appliance-network.service",
    "appliance-nftables.service",
    "appliance-dnsmasq.service",
    "appliance-config-pull.timer",
    "systemd-networkd.service",
    "ssh.service",
]


def _write(root: Path, path: str, text: str, mode: int = 0o644) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    target.chmod(mode)
    return target


def write_overlay(root: Path, options: ImageOptions | None = None) -> list[Path]:
    """Write every added file under `root` (mirroring `/`); returns what was written."""
    o = options or ImageOptions()
    written = []
    for unit in sorted([*UNITS.glob("*.service"), *UNITS.glob("*.socket")]):
        written.append(_write(root, f"/etc/systemd/system/{unit.name}", unit.read_text()))
    for kind in ("sysusers.d", "tmpfiles.d"):
        written.append(_write(root, f"/usr/lib/{kind}/appliance.conf", (UNITS / kind / "appliance.conf").read_text()))
    rules = UDEV_RULES.format(av=o.avionics, at=o.modem_at)
    written.append(_write(root, "/etc/udev/rules.d/70-appliance.rules", rules))
    written.append(_write(root, "/etc/ssh/sshd_config.d/appliance.conf", SSHD_CONFIG.format(ssh_port=o.ssh_port)))
    # host keys are made on each aircraft's first boot, never shared through the image
    written.append(_write(root, "/etc/systemd/system/ssh.service.d/host-keys.conf", SSH_HOST_KEYS))
    written.append(_write(root, "/etc/systemd/system/appliance-config-pull.service", CONFIG_PULL_SERVICE.format()))
    written.append(_write(root, "/etc/systemd/system/appliance-config-pull.timer", CONFIG_PULL_TIMER))
    example = CONFIG_PULL_ENV.format(repo=o.config_repo or "https://git.example.invalid/fleet/cabin-config.git")
    written.append(_write(root, "/etc/appliance/config-pull.env.example", example))
    if o.config_repo:
        written.append(_write(root, "/etc/appliance/config-pull.env", example))
    config = DEFAULT_CONFIG.replace("ssh_port = 2222 ", f"ssh_port = {o.ssh_port} ")
    written.append(_write(root, "/etc/appliance/appliance.toml", config, 0o640))
    written.append(_write(root, "/etc/systemd/network/20-wired.network", NETWORK))
    written.append(_write(root, "/etc/hostname", o.hostname + "\n"))
    written.append(_write(root, "/etc/fstab", "/dev/vda / ext4 rw,relatime 0 1\n"))
    readme = REPO / "image" / "README.md"
    if readme.exists():
        written.append(_write(root, "/usr/share/doc/appliance/README.image.md", readme.read_text()))
    return written
