"""The content component's ports: the active bundle (CONTENT) and one content sync (CONTENT_UPDATER), with what
the sync verifies against (the trust component's signed targets)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

# --- content -> portal, ground link ---------------------------------------------------------------------

class ContentView(Protocol):
    def active_root(self) -> Path | None:
        """The resolved directory of the active bundle (resolve once per request: old or new, never a mix)."""
        ...

    def active_id(self) -> str | None: ...


class ContentVerifier(Protocol):
    """What the content sync checks against before it uses anything from the ground (the trust component's
    signed targets). Each method returns None when the thing is signed, else the refusal reason (already
    counted and reported by the verifier); an unreadable local file raises OSError."""

    def check_document(self, target: str, data: bytes) -> str | None:
        """`data` (the content index, a manifest) must be the signed target `target` (length and hashes)."""
        ...

    def check_entries(self, prefix: str, entries: Sequence[tuple[str, int, str]]) -> str | None:
        """Each (path, size, sha256) of a manifest must be signed as `<prefix>/<path>` with that size and hash."""
        ...

    def check_file(self, target: str, local: Path) -> str | None:
        """A staged file against its signed target, before activation."""
        ...


class ContentUpdater(Protocol):
    async def update(self, base_url: str, budget: Callable[[int], bool] | None = None,
                     verifier: ContentVerifier | None = None) -> dict[str, Any]:
        """One content sync attempt against the ground station (static files under `<base_url>/content/`).
        `budget(n)` is asked before each range request of n bytes (False: stop cleanly). Cancelling it (the
        window closed) loses nothing. With a `verifier`, the index, the manifest and every file are accepted
        only if signed (targets `content/<path>`); a refusal ends the attempt "refused" with nothing installed.
        Returns SyncResult.as_dict(): {"status": "activated" | "up_to_date" | "budget" | "interrupted" |
        "failed" | "refused", "bundle_id", "bytes_downloaded", "bytes_local", "corrupt_chunks", "error",
        "refusal", ...}."""
        ...
