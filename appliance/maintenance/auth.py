"""The maintenance bearer token: read once at start from a file only its owner can read (mode 0600 or
stricter), at least 128 bits of it; and the per-address limit on failed authentications."""

from __future__ import annotations

import hmac
import math
import stat
import string
from pathlib import Path

from appliance.config import ConfigError
from appliance.timebase import Clock

KEY = "maintenance.token_file"
MIN_BITS = 128
HEX = frozenset(string.hexdigits)
BASE64 = frozenset(string.ascii_letters + string.digits + "+/=-_")


def token_bits(token: str) -> float:
    """An upper bound of the token's entropy from its alphabet and length: hex carries 4 bits a character,
    base64 (url-safe or not) 6, anything else at most 6.5 (95 printable characters); a token of fewer than 8
    distinct characters ("aaaa...") counts only those. `secrets.token_urlsafe(16)` (22 characters) or
    `secrets.token_hex(16)` (32) is 128 bits."""
    chars = set(token)
    if chars <= HEX:
        per_char = 4.0
    elif chars <= BASE64:
        per_char = 6.0
    else:
        per_char = math.log2(95)
    if len(chars) < 8:
        per_char = min(per_char, math.log2(max(2, len(chars))))
    return per_char * len(token)


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
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(str(path), KEY, f"token file is open to its group or others (mode {stat.S_IMODE(mode):04o}):"
                          " chmod 600")
    token = text.strip()
    if not token:
        raise ConfigError(str(path), KEY, "token file is empty")
    if token_bits(token) < MIN_BITS:
        raise ConfigError(str(path), KEY, f"token too short: at least {MIN_BITS} bits are needed (e.g. 22 "
                          "characters of `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`)")
    return token


def bearer_matches(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if not header:
        return False
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode("utf-8"), token.encode("utf-8"))


class FailedAuthLimit:
    """Failed authentications per client address (token bucket: `burst`, then `per_minute`). While an address
    has no tokens left its requests are refused before the token is even compared; each episode is logged once
    per address with the count (never what was presented)."""

    def __init__(self, clock: Clock, per_minute: int, burst: int, max_addresses: int = 4096) -> None:
        self._clock = clock
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max = max_addresses
        self._buckets: dict[str, tuple[float, float, int]] = {}  # address -> (tokens, time, failures)

    def _tokens(self, address: str, now: float) -> tuple[float, int]:
        tokens, then, failures = self._buckets.get(address, (self._burst, now, 0))
        return min(self._burst, tokens + (now - then) * self._rate), failures

    def wait(self, address: str) -> float:
        """0 while `address` may try a token, else the seconds until it may again."""
        tokens, _ = self._tokens(address, self._clock.monotonic())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate

    def failed(self, address: str) -> int:
        """Count one failure; the number in this address's current episode."""
        now = self._clock.monotonic()
        tokens, failures = self._tokens(address, now)
        if tokens >= self._burst:  # fully refilled: a new episode
            failures = 0
        if address not in self._buckets and len(self._buckets) >= self._max:
            del self._buckets[min(self._buckets, key=lambda a: self._buckets[a][1])]
        self._buckets[address] = (max(0.0, tokens - 1.0), now, failures + 1)
        return failures + 1
