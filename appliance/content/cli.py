"""`appliance content pack` and `appliance content install` (and where the content store is, for `appliance
fsck`: appliance/fsck.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from appliance.config import ConfigError, build_section, read_toml
from appliance.content.config import ContentConfig
from appliance.content.manifest import ManifestError
from appliance.simdiscovery import Ambiguous

EXIT_CLEAN = 0
EXIT_CORRECTED = 1
EXIT_UNCORRECTED = 4
EXIT_USAGE = 8  # fsck(8): operational error
DEFAULT_CONFIG = Path("/etc/appliance/appliance.toml")


def section_dir(args: argparse.Namespace, section: str, cls: Any) -> Path:
    """[section].dir of --config (or the default config if present), else of a running `appliance run --sim`
    (or ./.sim-state: appliance.simdiscovery), else the section's default. Raises ConfigError, and
    simdiscovery.Ambiguous when several simulated daemons run and none is this directory's."""
    from appliance import simdiscovery

    config_path: Path | None = args.config
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    if config_path is None:
        flagged = args.content is not None or getattr(args, "state_dir", None) is not None
        sim = None if flagged else simdiscovery.find()  # a directory named on the command line: only that one
        if sim is not None:
            return Path(sim.content_dir if section == "content" else sim.state_dir)
        return Path(cls().dir)
    raw = read_toml(config_path)
    table = raw.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(str(config_path), section, f"expected a [{section}] table")
    return Path(build_section(cls, table, str(config_path), section).dir)


def content_dir(args: argparse.Namespace) -> Path:
    """--content, else [content].dir of --config (or the default config if present), else the default."""
    if args.content is not None:
        return Path(args.content)
    return section_dir(args, "content", ContentConfig)


def install(args: argparse.Namespace) -> int:
    """`appliance content install BUNDLE_DIR`: 0 installed (or already active), 1 refused (one line on stderr:
    a bad bundle, no space, the store busy, a config error); the store is left with the old bundle or the new."""
    from appliance.content.install import Refused, install_bundle
    from appliance.content.store import ContentStore

    try:
        root = content_dir(args)
        result = install_bundle(ContentStore(root), Path(args.bundle))
    except (ConfigError, Ambiguous, Refused) as error:
        print(f"appliance content install: refused: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"appliance content install: refused: {error}", file=sys.stderr)
        return 1
    verb = "already active" if result.already else "installed and active"
    print(f"{result.bundle_id}: {verb} in {root} ({result.files} files, {result.bytes / 1e6:,.1f} MB)")
    return 0


def pack(args: argparse.Namespace) -> int:
    from appliance.content.catalog import check_catalog
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
                "savable": check_catalog(Path(args.dest)),  # items passengers may keep (offline_hours)
            }
        )
    )
    return 0
