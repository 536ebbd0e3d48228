"""The maintenance bearer token: read once at start from a file only its owner can read."""

from __future__ import annotations

import hmac
import stat
from pathlib import Path

from appliance.config import ConfigError

KEY = "maintenance.token_file"


def load_token(path: Path) -> str:
    """The token in `path`. Refuses (ConfigError naming the file) a missing, empty or world-readable file."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), KEY, "token file not found (create it with a random token, mode 0600)") from None
    except PermissionError:
        raise ConfigError(str(path), KEY, "token file not readable by the daemon's user") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), KEY, "token file is not UTF-8 text") from None
    if mode & stat.S_IROTH:
        raise ConfigError(str(path), KEY, f"token file is world-readable (mode {stat.S_IMODE(mode):04o}): chmod 600")
    token = text.strip()
    if not token:
        raise ConfigError(str(path), KEY, "token file is empty")
    return token


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if not header:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), token.encode("utf-8"))
