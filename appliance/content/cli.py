"""`appliance fsck` and `appliance content pack`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from appliance.config import ConfigError, build_section, read_toml
from appliance.content.config import ContentConfig
from appliance.content.manifest import ManifestError

EXIT_CLEAN = 0
EXIT_CORRECTED = 1
EXIT_UNCORRECTED = 4
EXIT_USAGE = 8  # fsck(8): operational error
DEFAULT_CONFIG = Path("/etc/appliance/appliance.toml")


def content_dir(args: argparse.Namespace) -> Path:
    """--content, else [content].dir of --config (or the default config if present), else the default."""
    if args.content is not None:
        return Path(args.content)
    config_path: Path | None = args.config
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    if config_path is None:
        return Path(ContentConfig().dir)
    raw = read_toml(config_path)
    table = raw.get("content", {})
    if not isinstance(table, dict):
        raise ConfigError(str(config_path), "content", "expected a [content] table")
    return Path(build_section(ContentConfig, table, str(config_path), "content").dir)


class ProgressBar:
    """A one-line bar on a terminal's stderr; silent when stderr is not a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self._last = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = done * 100 // total
        if percent == self._last:
            return
        self._last = percent
        filled = percent * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\rchecking [{bar}] {percent:3d}% {done / 1e6:,.1f}/{total / 1e6:,.1f} MB")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self._last >= 0:
            self.stream.write("\n")
            self.stream.flush()


def fsck(args: argparse.Namespace) -> int:
    from appliance.content.check import Checker
    from appliance.content.store import ContentStore

    try:
        root = content_dir(args)
    except ConfigError as error:
        print(f"appliance fsck: config error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not root.is_dir():
        print(f"appliance fsck: no content store at {root}", file=sys.stderr)
        return EXIT_USAGE
    store = ContentStore(root)
    bar = ProgressBar(sys.stderr)
    workers = min(os.cpu_count() or 1, 4)
    report = Checker(store).check(full=True, repair=bool(args.repair), workers=workers, processes=True, progress=bar)
    bar.finish()
    if not report.problems:
        status = EXIT_CLEAN
    elif report.unrepaired:
        status = EXIT_UNCORRECTED
    else:
        status = EXIT_CORRECTED
    if args.json:
        print(json.dumps(report.as_dict() | {"root": str(root), "exit_status": status}, indent=1))
    else:
        for problem in report.problems:
            action = (
                f" -> {problem.quarantined_to}"
                if problem.quarantined_to
                else (" (recorded)" if problem.repaired else "")
            )
            detail = f": {problem.detail}" if problem.detail else ""
            print(f"{problem.kind}: {problem.bundle}/{problem.path}{detail}{action}")
        for bundle, paths in report.awaiting_download.items():
            print(f"awaiting download: {bundle}: {len(paths)} file(s)")
        verdict = {EXIT_CLEAN: "clean", EXIT_CORRECTED: "errors corrected", EXIT_UNCORRECTED: "errors left uncorrected"}
        print(
            f"{root}: {report.bundles} bundle(s), {report.files} files, {report.hashed_bytes / 1e6:,.1f} MB hashed "
            f"in {report.seconds:.2f} s: {verdict[status]}"
        )
    return status


def pack(args: argparse.Namespace) -> int:
    from appliance.content.pack import pack as build_bundle
    from appliance.content.pack import publish

    priorities: dict[str, int] = {}
    for item in getattr(args, "priority", None) or []:
        category, _, value = str(item).partition("=")
        try:
            priorities[category] = int(value)
        except ValueError:
            print(f"appliance content pack: --priority wants CATEGORY=N, got {item!r}", file=sys.stderr)
            return 2
    try:
        manifest = build_bundle(
            Path(args.src), Path(args.dest), bundle_id=args.bundle_id, priorities=priorities or None
        )
        if getattr(args, "publish", False):
            publish(Path(args.dest).parent, manifest, Path(args.dest).name)
    except (ManifestError, OSError) as error:
        print(f"appliance content pack: {error}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "bundle_id": manifest.bundle_id,
                "files": len(manifest.files),
                "bytes": manifest.total_size,
                "dest": str(args.dest),
            }
        )
    )
    return 0
