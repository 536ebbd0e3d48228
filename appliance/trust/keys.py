"""The ground's signing keys: ed25519, one PEM (PKCS#8) file per key, 0600, in `KEYDIR/<role>/<keyid>.pem`.

`KEYDIR/root/` is the offline root: `publish` never reads it, so the pipeline's machine holds only
`targets/`, `snapshot/` and `timestamp/` (the online keys) and root lives on offline media, brought in for
`init` and `rotate`. A rotated-out key is moved to `KEYDIR/retired/<role>/`, never deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner

from appliance.fs.atomic import atomic_write_bytes, fsync_dir
from appliance.trust.roles import ROLES


class KeyStoreError(Exception):
    """A role's keys are missing or unreadable."""


class KeyStore:
    def __init__(self, keys_dir: Path) -> None:
        self.dir = keys_dir

    def _role_dir(self, role: str) -> Path:
        if role not in ROLES:
            raise KeyStoreError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
        return self.dir / role

    def _ensure(self, directory: Path) -> None:
        if not directory.is_dir():
            directory.mkdir(mode=0o700, parents=True)
            fsync_dir(directory.parent)
        os.chmod(directory, 0o700)

    def generate(self, role: str) -> CryptoSigner:
        """A new ed25519 key for `role`, written durably with mode 0600 before it is returned."""
        directory = self._role_dir(role)
        self._ensure(self.dir)
        self._ensure(directory)
        signer = CryptoSigner.generate_ed25519()
        atomic_write_bytes(directory / f"{signer.public_key.keyid}.pem", signer.private_bytes, 0o600)
        return signer

    def signers(self, role: str) -> list[CryptoSigner]:
        """Every key of `role` (sorted by key id); [] when the directory is absent (e.g. root kept offline).
        Raises KeyStoreError for an unreadable key file (never skipped silently)."""
        directory = self._role_dir(role)
        if not directory.is_dir():
            return []
        found: list[CryptoSigner] = []
        for path in sorted(directory.glob("*.pem")):
            try:
                private = load_pem_private_key(path.read_bytes(), None)
                found.append(CryptoSigner(private))
            except (OSError, ValueError, TypeError) as error:
                raise KeyStoreError(f"{path}: {error}") from None
        return found

    def retire(self, role: str, keyid: str) -> None:
        """Move a rotated-out key to `retired/<role>/` (kept for the audit, never used again)."""
        source = self._role_dir(role) / f"{keyid}.pem"
        retired = self.dir / "retired" / role
        self._ensure(self.dir / "retired")
        self._ensure(retired)
        os.replace(source, retired / source.name)
        fsync_dir(retired)
        fsync_dir(source.parent)
