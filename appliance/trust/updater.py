"""python-tuf's ngclient Updater, judged against the caller's trusted time and persisting through the
generation store's FileOps.

python-tuf (7.x) writes its metadata cache itself: `_persist_file` (a NamedTemporaryFile and os.replace, never
an fsync), `_persist_root` (Path.mkdir of root_history/, then `_persist_file`) and `_update_root_symlink`
(os.remove then os.symlink: a moment with no root.json). Those writes go around appliance.fs.fileops, so the
crash-state harness could not see them. `GenerationUpdater` overrides those three hooks (and the matching
reader, `_load_local_metadata`) to go through `GenerationStore.write/link` and its `ops`, into the generation
directory the refresh runs in (never the one in use; `GenerationStore.commit` makes it durable).

The hooks are python-tuf internals: constructing an Updater refuses to start (RuntimeError) when a release no
longer has them, and tests/trust/test_crash_states.py checks that every file python-tuf leaves in the
generation was written through the recording FileOps.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib import parse

from tuf.ngclient import Updater

from appliance.trust.store import HISTORY, GenerationStore

HOOKS = ("_persist_file", "_persist_root", "_update_root_symlink", "_load_local_metadata")


class GenerationUpdater(Updater):
    """The Updater with its reference time set by the caller (see appliance.trust.client's clock rule), writing
    its metadata cache into `gen` through `store`'s FileOps."""

    def __init__(self, store: GenerationStore, gen: Path, *args: Any, reference_time: datetime,
                 **kwargs: Any) -> None:
        missing = [hook for hook in HOOKS if not callable(getattr(Updater, hook, None))]
        if missing:
            raise RuntimeError(f"python-tuf's Updater no longer has {', '.join(missing)}: its metadata writes "
                               "would bypass the crash-safe store")
        self._store = store
        self._gen = gen
        super().__init__(str(gen), *args, **kwargs)  # persists the bootstrap root through the hooks below
        if not hasattr(self._trusted_set, "reference_time"):
            raise RuntimeError("python-tuf no longer keeps TrustedMetadataSet.reference_time")
        self._trusted_set.reference_time = reference_time

    def _persist_file(self, filename: str, data: bytes) -> None:
        path = Path(filename)
        if path.parent != self._gen and path.parent != self._gen / HISTORY:
            raise OSError(f"python-tuf persists {filename} outside the generation {self._gen}")
        self._store.write(path, data)

    def _persist_root(self, version: int, data: bytes) -> None:
        if not self._store.ops.exists(self._gen / HISTORY):
            self._store.ops.mkdir(self._gen / HISTORY)
        self._persist_file(str(self._gen / HISTORY / f"{version}.root.json"), data)

    def _update_root_symlink(self) -> None:
        version = self._trusted_set.root.version
        self._store.link(self._gen / "root.json", f"{HISTORY}/{version}.root.json")

    def _load_local_metadata(self, rolename: str) -> bytes:
        data = self._store.read(self._gen, f"{parse.quote(rolename, '')}.json")
        if data is None:
            raise FileNotFoundError(f"{self._gen}/{rolename}.json")
        return data
