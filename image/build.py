"""`make image`: the appliance's root filesystem from Debian packages (mmdebstrap, bookworm), with the project's
wheel in a venv at /opt/appliance, its units enabled, udev rules, sshd and the config-pull timer.

Outputs in build/image/: rootfs.tar, vmlinuz, initrd.img and disk.img (ext4, made with mke2fs -d: no mount).
Needs root (mmdebstrap's root mode, device nodes, file ownership). Missing tools are installed with apt-get.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from image.overlay import REPO, SERVICES_TO_ENABLE, VENV, ImageOptions, write_overlay

OUT = REPO / "build" / "image"
SUITE = "bookworm"
PACKAGES = [
    "systemd-sysv", "linux-image-amd64", "udev", "dbus", "kmod", "iproute2", "procps", "ca-certificates",
    "python3", "python3-venv", "openssh-server", "ansible-core", "git", "e2fsprogs", "curl",
    "nftables", "dnsmasq-base",  # the cabin network (dnsmasq-base: the binary without Debian's dnsmasq.service)
]  # fmt: skip
TOOLS = {"mmdebstrap": "mmdebstrap", "qemu-system-x86_64": "qemu-system-x86", "mke2fs": "e2fsprogs"}


def log(message: str) -> None:
    print(f"[image] {message}", flush=True)


def run(argv: list[str], **kwargs: object) -> None:
    log("$ " + " ".join(shlex.quote(a) for a in argv)[:400])
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_tools(extra: dict[str, str] | None = None) -> None:
    """Install the Debian packages of the tools that are missing (`extra`: more tool -> package)."""
    tools = TOOLS | (extra or {})
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    if missing:
        if os.geteuid() != 0:
            raise SystemExit(f"make image: needs root to install {' '.join(missing)}")
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip


def build_release(out: Path) -> Path:
    """The first release: `appliance release build` (the project's wheel and its dependencies', fetched from
    PyPI by pip at build time, with the aircraft extra), as the ground would publish it."""
    releases = out / "release"
    if releases.exists():
        shutil.rmtree(releases)
    run([sys.executable, "-m", "appliance", "release", "build", str(releases), "--source", str(REPO),
         "--extra", "aircraft"])
    (built,) = releases.glob("appliance-*")
    return built


def customize_hooks(overlay: Path, release: Path) -> list[str]:
    """mmdebstrap hooks ("$1" is the new root). The first release is installed the way every later one is
    (`appliance release install`: a venv at /opt/appliance/releases/<version>, `pip install --no-index` of the
    release's own wheels, `current` and `committed` -> it), run from a throwaway bootstrap venv."""
    enable = " ".join(SERVICES_TO_ENABLE)
    bootstrap = "/tmp/appliance-bootstrap"
    return [
        f'cp -a {shlex.quote(str(overlay))}/. "$1/"',
        f'mkdir -p "$1/tmp/release" && cp -a {shlex.quote(str(release))}/. "$1/tmp/release/"',
        f'chroot "$1" python3 -m venv {bootstrap}',
        f'chroot "$1" {bootstrap}/bin/pip install --quiet --no-index --find-links /tmp/release/wheels appliance',
        f'chroot "$1" {bootstrap}/bin/appliance release install /tmp/release --config /etc/appliance/appliance.toml',
        f'rm -rf "$1/tmp/release" "$1{bootstrap}"',
        f'chroot "$1" {VENV}/current/bin/appliance --version',
        'chroot "$1" systemd-sysusers',
        'chroot "$1" chown -R root:appliance /etc/appliance',
        f'chroot "$1" chown -R appliance:appliance {VENV}',  # the updater installs and swaps releases there
        'chmod 0750 "$1/etc/appliance"',  # ConfigurationDirectoryMode=0750
        f'chroot "$1" systemctl enable {enable}',
        'rm -f "$1"/etc/ssh/ssh_host_*',
        'chroot "$1" passwd --lock root',
    ]


def build_rootfs(out: Path, options: ImageOptions) -> Path:
    tarball = out / "rootfs.tar"
    with tempfile.TemporaryDirectory(prefix="appliance-image-") as scratch:
        overlay = Path(scratch) / "overlay"
        write_overlay(overlay, options)
        release = build_release(out)
        wheels = sorted((release / "wheels").glob("*.whl"))
        log(f"release {release.name}, {len(wheels)} wheels: {', '.join(w.name.split('-')[0] for w in wheels)}")
        argv = ["mmdebstrap", "--variant=apt", "--include=" + ",".join(PACKAGES)]
        for hook in customize_hooks(overlay, release):
            argv.append(f"--customize-hook={hook}")
        run([*argv, SUITE, str(tarball)])
    return tarball


def unpack(tarball: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    run(["tar", "--extract", "--numeric-owner", "--same-owner", "--xattrs", "-f", str(tarball), "-C", str(dest)])


def boot_files(root: Path, out: Path) -> tuple[Path, Path]:
    """Copy the rootfs's own kernel and initrd out (qemu boots them directly)."""
    kernels = sorted(glob.glob(str(root / "boot" / "vmlinuz-*")))
    initrds = sorted(glob.glob(str(root / "boot" / "initrd.img-*")))
    if not kernels or not initrds:
        raise SystemExit("make image: no kernel or initrd in the rootfs")
    kernel, initrd = out / "vmlinuz", out / "initrd.img"
    shutil.copyfile(kernels[-1], kernel)
    shutil.copyfile(initrds[-1], initrd)
    return kernel, initrd


def make_disk(
    tarball: Path, disk: Path, size: str = "3G", customize: Callable[[Path], None] | None = None
) -> tuple[Path, Path]:
    """Unpack the rootfs, let `customize(root)` add files (the boot test's config), make an ext4 image of it.
    Returns the kernel and initrd copied next to the disk."""
    with tempfile.TemporaryDirectory(prefix="appliance-rootfs-", dir=disk.parent) as scratch:
        root = Path(scratch) / "root"
        unpack(tarball, root)
        if customize is not None:
            customize(root)
        kernel, initrd = boot_files(root, disk.parent)
        disk.unlink(missing_ok=True)
        run(["truncate", "-s", size, str(disk)])
        run(["mke2fs", "-q", "-t", "ext4", "-L", "appliance", "-d", str(root), str(disk)])
    return kernel, initrd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m image.build", description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ssh-port", type=int, default=ImageOptions.ssh_port)
    parser.add_argument("--config-repo", default="", help="ansible-pull repository for the config-pull timer")
    parser.add_argument("--reuse", action="store_true", help="keep an existing rootfs.tar, only remake the disk")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("make image: needs root (mmdebstrap root mode, file ownership in the image)")
    ensure_tools()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tarball = args.out / "rootfs.tar"
    if not (args.reuse and tarball.exists()):
        build_rootfs(args.out, ImageOptions(ssh_port=args.ssh_port, config_repo=args.config_repo))
    make_disk(tarball, args.out / "disk.img")
    size = tarball.stat().st_size / 1e6
    log(f"done in {time.monotonic() - started:.0f} s: {tarball} ({size:.0f} MB), disk.img, vmlinuz, initrd.img")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
