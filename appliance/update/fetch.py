"""Fetching a release's files from the ground: Range GETs of BLOCK bytes, each asked of the byte budget first,
made durable, and the durable length logged, so a window that closes, a kill or a power cut loses at most the
block in flight and the next window resumes where this one stopped. A finished file is kept only when its
length and SHA-256 are the signed target's (TUF); otherwise it is discarded and counted.

Files land in `<downloads>/<version>/` (`release.json`, `wheels/<name>`); a wheel another installed release
already has (same SHA-256) is copied from it instead of fetched.

Failure semantics: `fetch_file` returns "done" | "budget"; it raises LinkDown for a network failure or an
answer that is not the asked range (what was received stays), and Mismatch when the finished file is not the
signed one (the partial file is removed: the next attempt starts again). OSError (a disk fault) propagates.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib import parse

import aiohttp

from appliance.fs.atomic import atomic_write_bytes, read_state_file
from appliance.fs.fileops import REAL_OPS, FileOps, ensure_dir

BLOCK = 256 * 1024
ByteBudget = Callable[[int], bool]


class LinkDown(Exception):
    """The ground did not answer as asked; resume in a later window."""


class Mismatch(Exception):
    """The finished file is not the signed target."""


@dataclass(frozen=True)
class Target:
    """A signed target as the trusted metadata says: its path, length, SHA-256 and where it is served."""

    path: str
    length: int
    sha256: str
    url: str


@dataclass
class Progress:
    bytes_fetched: int = 0
    bytes_local: int = 0
    requests: int = 0
    mismatches: int = 0
    files_done: list[str] = field(default_factory=list)


def target_url(targets_url: str, path: str, sha256: str) -> str:
    """Consistent snapshots: the file name prefixed with its hash (appliance.trust.repo's layout)."""
    dirname, sep, basename = path.rpartition("/")
    base = targets_url if targets_url.endswith("/") else targets_url + "/"
    return base + parse.quote(f"{dirname}{sep}{sha256}.{basename}")


def _verify(path: Path, target: Target) -> bool:
    if not path.is_file() or path.stat().st_size != target.length:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == target.sha256


def reuse(dest: Path, target: Target, candidates: list[Path], progress: Progress) -> bool:
    """Copy a file with the target's SHA-256 from an installed release instead of fetching it."""
    for candidate in candidates:
        if _verify(candidate, target):
            ensure_dir(dest.parent)
            tmp = dest.with_name(dest.name + ".copy")
            shutil.copyfile(candidate, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
            REAL_OPS.fsync_dir(dest.parent)
            progress.bytes_local += target.length
            return True
    return False


async def fetch_file(session: aiohttp.ClientSession, target: Target, dest: Path, budget: ByteBudget | None,
                     progress: Progress, *, ops: FileOps = REAL_OPS, block: int = BLOCK,
                     request_seconds: float = 30.0) -> str:
    # the hashing of whole files runs off the event loop: a wheel of tens of MB takes seconds on the aircraft's
    # disk (and blocked the watchdog past WatchdogSec under the image test's emulated CPU)
    if await asyncio.to_thread(_verify, dest, target):
        return "done"
    ensure_dir(dest.parent, ops)
    part, log = dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".offset")
    raw = read_state_file(log, ops)
    offset = int(raw) if raw and raw.strip().isdigit() and part.exists() else 0
    fd = ops.open(part, os.O_RDWR | os.O_CREAT)
    try:
        ops.truncate(fd, offset)  # whatever followed the last logged block may be torn
        while offset < target.length:
            n = min(block, target.length - offset)
            if budget is not None and not budget(n):
                return "budget"
            data = await _get_range(session, target.url, offset, n, request_seconds)
            progress.requests += 1
            ops.pwrite(fd, data, offset)
            ops.fsync(fd)
            offset += len(data)
            progress.bytes_fetched += len(data)
            atomic_write_bytes(log, str(offset).encode(), ops=ops)
    finally:
        ops.close(fd)
    if not await asyncio.to_thread(_verify, part, target):
        progress.mismatches += 1
        part.unlink(missing_ok=True)
        log.unlink(missing_ok=True)
        raise Mismatch(f"{target.path}: not the signed length and SHA-256")
    ops.rename(part, dest)
    ops.unlink(log)
    ops.fsync_dir(dest.parent)
    progress.files_done.append(target.path)
    return "done"


async def _get_range(session: aiohttp.ClientSession, url: str, offset: int, n: int, seconds: float) -> bytes:
    headers = {"Range": f"bytes={offset}-{offset + n - 1}", "Accept-Encoding": "identity"}
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            if response.status == 206 and (response.content_length or 0) <= n:
                data = await response.read()
            elif response.status == 200 and offset == 0:
                data = await response.content.readexactly(n)  # a server without Range: its first n bytes
            else:
                raise LinkDown(f"{url}: HTTP {response.status} to a Range request")
    except (aiohttp.ClientError, TimeoutError, OSError, asyncio.IncompleteReadError) as error:
        raise LinkDown(f"{url}: {error!r}") from None
    if len(data) != n:
        raise LinkDown(f"{url}: {len(data)} bytes for a range of {n}")
    return data
