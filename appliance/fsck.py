"""`appliance fsck`: the content store against its manifests and the state directory's journal, the daemon's
two stores on disk, checked together (so this command lives with the composition root, not in either
component). Exit codes as fsck(8): 0 clean, 1 corrected, 4 left uncorrected, 8 nothing could be checked."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from appliance.config import ConfigError
from appliance.content.cli import EXIT_CLEAN, EXIT_CORRECTED, EXIT_UNCORRECTED, EXIT_USAGE, content_dir, section_dir
from appliance.simdiscovery import Ambiguous
from appliance.storage.config import StorageConfig


def state_dir(args: argparse.Namespace) -> Path:
    """--state-dir, else [storage].dir of the config."""
    if getattr(args, "state_dir", None) is not None:
        return Path(args.state_dir)
    return section_dir(args, "storage", StorageConfig)


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


def _not_a_store(root: Path) -> str | None:
    """Why `root` is not a content store (it has neither bundles/ nor `current`), or None when it is one."""
    if (root / "bundles").is_dir() or os.path.lexists(root / "current"):
        return None
    from appliance.content.manifest import MANIFEST_NAME

    if (root / MANIFEST_NAME).is_file():
        return f"{root} is a bundle, not a content store (install it with `appliance content install {root}`)"
    return f"{root} is not a content store (no bundles/ and no current)"


def fsck(args: argparse.Namespace) -> int:
    """Check the content store and the state directory. Exit 0 clean, 1 corrected, 4 left uncorrected, 8 when
    nothing could be checked (no store and no state directory, a config error, the disk refusing to be read)."""
    from appliance.content.check import Checker, CheckReport
    from appliance.content.store import ContentStore

    try:
        root = content_dir(args)
        state = state_dir(args)
    except ConfigError as error:
        print(f"appliance fsck: config error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Ambiguous as error:
        print(f"appliance fsck: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not root.is_dir():
        print(f"appliance fsck: no content store at {root}", file=sys.stderr)
        return EXIT_USAGE
    not_a_store = _not_a_store(root)
    try:
        state_report = _check_state(state)
        report: CheckReport | None = None
        if not_a_store is None:
            bar = ProgressBar(sys.stderr)
            workers = min(os.cpu_count() or 1, 4)
            checker = Checker(ContentStore(root))
            report = checker.check(full=True, repair=bool(args.repair), workers=workers, processes=True, progress=bar)
            bar.finish()
    except OSError as error:
        print(f"appliance fsck: {error}", file=sys.stderr)
        return EXIT_USAGE
    if report is None and state_report is None:
        message = f"{not_a_store}, and no state directory at {state}: nothing checked"
        if args.json:
            print(json.dumps({"root": str(root), "state": None, "error": message, "exit_status": EXIT_USAGE}))
        print(f"appliance fsck: {message}", file=sys.stderr)
        return EXIT_USAGE
    if report is None:
        print(f"appliance fsck: {not_a_store}: content not checked", file=sys.stderr)
    status = EXIT_CLEAN
    if report is not None and report.problems:
        status = EXIT_UNCORRECTED if report.unrepaired else EXIT_CORRECTED
    if state_report is not None and state_report["errors"]:
        status = EXIT_UNCORRECTED  # journal corruption is reported and kept for an engineer, never "repaired"
    if args.json:
        content = report.as_dict() if report is not None else {"problems": [], "error": not_a_store}
        print(json.dumps(content | {"root": str(root), "state": state_report, "exit_status": status}, indent=1))
    else:
        _print_report(root, state, report, state_report, status)
    return status


def _print_report(root: Path, state: Path, report: Any, state_report: dict[str, Any] | None, status: int) -> None:
    if state_report is not None:
        for problem_text in state_report["errors"]:
            print(f"state: {problem_text}")
        print(f"{state}: {state_report['records']} journal records, {len(state_report['errors'])} error(s)")
    if report is None:
        return
    for problem in report.problems:
        action = f" -> {problem.quarantined_to}" if problem.quarantined_to else ""
        if problem.repaired and not action:
            action = " (made)" if problem.kind == "layout" else " (recorded)"
        detail = f": {problem.detail}" if problem.detail else ""
        where = f"{problem.bundle}/{problem.path}" if problem.bundle else problem.path
        print(f"{problem.kind}: {where}{detail}{action}")
    for bundle, paths in report.awaiting_download.items():
        print(f"awaiting download: {bundle}: {len(paths)} file(s)")
    verdict = {EXIT_CLEAN: "clean", EXIT_CORRECTED: "errors corrected", EXIT_UNCORRECTED: "errors left uncorrected"}
    print(
        f"{root}: {report.bundles} bundle(s), {report.files} files, {report.hashed_bytes / 1e6:,.1f} MB hashed "
        f"in {report.seconds:.2f} s: {verdict[status]}"
    )


def _check_state(directory: Path) -> dict[str, Any] | None:
    """The state directory's read-only check (journal framing, state files), when there is one."""
    from appliance.storage.check import check_state_dir

    if not (directory / "journal").is_dir():
        return None
    report: dict[str, Any] = check_state_dir(directory)
    return report | {"dir": str(directory)}
