"""`appliance trust init|publish|rotate`: the ground tools' command line (appliance.trust.repo does the work).
Exit 0 on success; 1 with one line on stderr when the keys or the repository cannot be used as asked."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from appliance.trust.roles import ROLES


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trust = sub.add_parser("trust", help="ground side: the fleet's TUF keys and signed repository")
    trust_sub = trust.add_subparsers(dest="trust_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--keys", required=True, type=Path, help="key directory (KEYDIR/root is the offline root)")
        parser.add_argument("--repo", required=True, type=Path, help="repository directory (serve it as static files)")
        parser.add_argument("--now", type=_instant, default=None, metavar="ISO8601",
                            help="sign as if the clock read this (expiries count from it; default: now)")

    init = trust_sub.add_parser("init", help="create the keys and the first root, targets, snapshot, timestamp")
    common(init)
    init.add_argument("--root-keys", type=int, default=1, help="number of root keys (default 1)")
    init.add_argument("--root-threshold", type=int, default=1, help="root signatures required (default 1)")
    init.set_defaults(func=cmd_init)

    publish = trust_sub.add_parser("publish", help="add or replace targets; re-sign snapshot and timestamp")
    common(publish)
    publish.add_argument("--prefix", default="", help="target path prefix (e.g. content for bundles)")
    publish.add_argument("--retire", action="append", default=[], metavar="DIR",
                         help="drop the targets under DIR (e.g. content/<old bundle>) in the same version")
    publish.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                         help="files or directories (a directory adds every file under it); none: re-sign only")
    publish.set_defaults(func=cmd_publish)

    rotate = trust_sub.add_parser("rotate", help="replace a role's keys (root signed by the old root's threshold)")
    common(rotate)
    rotate.add_argument("--role", required=True, choices=ROLES)
    rotate.set_defaults(func=cmd_rotate)


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone")
    return moment


def _fail(error: Exception) -> int:
    print(f"appliance trust: {error}", file=sys.stderr)
    return 1


def cmd_init(args: argparse.Namespace) -> int:
    from appliance.trust import repo

    try:
        repo.init(args.keys, args.repo, root_keys=args.root_keys, root_threshold=args.root_threshold, now=args.now)
    except (repo.RepoError, repo.KeyStoreError, OSError) as error:
        return _fail(error)
    print(f"appliance trust: repository in {args.repo}; ship {args.repo / 'metadata' / '1.root.json'} in the "
          f"image as [trust] root; keep {args.keys / 'root'} offline")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from appliance.trust import repo

    try:
        names = repo.publish(args.keys, args.repo, args.paths, prefix=args.prefix, now=args.now,
                             retire=args.retire)
    except (repo.RepoError, repo.KeyStoreError, OSError, ValueError) as error:
        return _fail(error)
    print(f"appliance trust: {len(names)} targets published", file=sys.stderr)
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    from appliance.trust import repo

    try:
        repo.rotate(args.keys, args.repo, args.role, now=args.now)
    except (repo.RepoError, repo.KeyStoreError, OSError) as error:
        return _fail(error)
    return 0
