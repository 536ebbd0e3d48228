"""The content component: the content store, its boot-time check and background re-hash, the chunked sync.
Its CLI: `appliance content pack`, `appliance content install` (`appliance fsck`, which checks the
state directory too, is the root's: appliance/fsck.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from appliance import ports
from appliance.content.config import ContentConfig
from appliance.core.spec import ComponentSpec, deferred, lazy


def _content_section(component: Any) -> dict[str, Any]:
    return {"active_id": component.store.active_id()}


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    content = sub.add_parser("content", help="content bundles")
    content_sub = content.add_subparsers(dest="content_command", required=True)
    pack = content_sub.add_parser("pack", help="build a bundle (manifest + files) from a directory")
    pack.add_argument("src", type=Path)
    pack.add_argument("dest", type=Path)
    pack.add_argument("--bundle-id", default=None)
    pack.add_argument("--priority", action="append", metavar="CATEGORY=N", help="fetch order of a top-level dir")
    pack.add_argument("--publish", action="store_true", help="make it the current bundle in DEST's index.json")
    pack.set_defaults(func=lazy("appliance.content.cli:pack"))
    install = content_sub.add_parser("install", help="verify a bundle made by `content pack` and make it active")
    install.add_argument("bundle", type=Path, help="the bundle's directory (manifest.json and its files)")
    install.add_argument("--config", type=Path, default=None, help="for [content].dir (default: as fsck finds it)")
    install.add_argument("--content", type=Path, default=None, help="content store root (default: from the config)")
    install.set_defaults(func=lazy("appliance.content.cli:install"))


COMPONENT = ComponentSpec(
    name="content",
    config=ContentConfig,
    build=deferred("appliance.content.component:build"),
    provides=(ports.CONTENT, ports.CONTENT_UPDATER),
    uses=(ports.BOOT,),  # after an unsafe shutdown the boot check re-hashes what was being written
    status={"content": _content_section},
    cli=_cli,
)
