"""What the content sync makes of the ground's answers, for any static HTTP server, object store or CDN.

The sync asks for the bytes as stored (`Accept-Encoding: identity`): chunk hashes and Range offsets are of the
stored file, and a server with compression on (nginx's stock `gzip on`) would otherwise answer a Range request
for a compressible file with a compressed full 200. An answer is then one of:

- usable: a 206 with exactly the range asked for, or a 200 with the whole file (HTTP lets any server or CDN
  ignore Range; the sync then takes the whole file);
- a dropped link (`LinkDown`: 5xx, 408, 425, 429, a connection error): retried, then resumed next window;
- unusable (`Unusable`: an encoding it did not ask for, a range it did not ask for, a 200 that is not the file,
  any other status): counted by reason, reported, the file skipped in this attempt and never asked again in a
  loop; the attempt ends "failed" once everything else is fetched.
"""

from __future__ import annotations

from collections.abc import Mapping

IDENTITY = {"Accept-Encoding": "identity"}
TRANSIENT = frozenset({408, 425, 429})
REASONS = ("encoding", "range", "not_the_file", "status")


class SyncFailed(Exception):
    """The ground's content cannot be used (bad index or manifest, missing file, repeatedly corrupt chunk,
    no space): this attempt stops; nothing is activated."""


class LinkDown(Exception):
    """The connection failed mid-sync: resume in the next window."""


class Unusable(Exception):
    """An answer the sync cannot use; `reason` is one of REASONS (the metric's label)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _encoding(url: str, headers: Mapping[str, str]) -> None:
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise Unusable("encoding", f"{url}: Content-Encoding {encoding!r} although identity was asked for")


def check_document(url: str, status: int) -> None:
    """A plain GET of the index or a manifest (aiohttp decodes a compressed one). Raises SyncFailed (404),
    LinkDown (transient) or Unusable."""
    if status == 200:
        return
    if status == 404:
        raise SyncFailed(f"{url}: 404")
    if status >= 500 or status in TRANSIENT:
        raise LinkDown(f"{url}: HTTP {status}")
    raise Unusable("status", f"{url}: HTTP {status}")


def check_range(url: str, status: int, headers: Mapping[str, str], *, first: int, last: int, size: int) -> bool:
    """Judge the answer to `Range: bytes=first-last` of a file of `size` bytes before its body is read:
    False for the 206 asked for, True for a 200 carrying the whole file. Raises SyncFailed (404), LinkDown
    (transient) or Unusable."""
    if status == 404:
        raise SyncFailed(f"{url}: 404")
    if status >= 500 or status in TRANSIENT:
        raise LinkDown(f"{url}: HTTP {status} to a Range request")
    if status not in (200, 206):
        raise Unusable("status", f"{url}: HTTP {status} to a Range request")
    _encoding(url, headers)
    if status == 206:
        content_range = headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {first}-{last}/"):
            raise Unusable("range", f"{url}: Content-Range {content_range!r} to bytes={first}-{last}")
        return False
    length = headers.get("Content-Length")
    if length is None or not length.isdigit() or int(length) != size:
        raise Unusable("not_the_file", f"{url}: a 200 of {length or 'unknown'} bytes for a file of {size}")
    return True
