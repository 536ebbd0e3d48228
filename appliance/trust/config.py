"""The trust component's config section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrustConfig:
    """[trust]: the pinned first TUF root (shipped in the image) and where trusted metadata is kept.

    `metadata_dir` empty means `<state directory>/trust` (the STATE_DIR service's path). `path` is the
    repository's place under `groundlink.url` (metadata at `<url><path>/metadata/`, targets at
    `<url><path>/targets/`)."""

    root: str = "/etc/appliance/trust/root.json"
    metadata_dir: str = ""
    path: str = "/tuf"
    read_timeout_s: float = 20.0  # one read of a response body that takes longer is a slow retrieval
    min_rate_bps: float = 256.0  # after `rate_grace_s`, a body arriving slower than this is a slow retrieval
    rate_grace_s: float = 10.0

    def metadata_path(self, state_dir: str | Path) -> Path:
        """Where the trusted metadata lives, given the state directory the component was handed."""
        return Path(self.metadata_dir) if self.metadata_dir else Path(state_dir) / "trust"

    def validate(self) -> None:
        if not self.root:
            raise ValueError("root", "must name the pinned root.json")
        if not self.path.startswith("/"):
            raise ValueError("path", "must start with /")
        if self.read_timeout_s <= 0:
            raise ValueError("read_timeout_s", "must be > 0")
        if self.min_rate_bps < 0:
            raise ValueError("min_rate_bps", "must be >= 0")
        if self.rate_grace_s < 0:
            raise ValueError("rate_grace_s", "must be >= 0")
