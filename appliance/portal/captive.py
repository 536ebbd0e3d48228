"""Captive-portal detection: every platform's probe redirects to the welcome page until that client accepted
once; then the client gets that platform's exact "online" answer until it has been inactive for a while.

Facts: shared/reference/captive-portal.md. Clients are known by address (the cabin network has no NAT).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from appliance.timebase import Clock

APPLE_SUCCESS = b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
FIREFOX_CANONICAL = b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>'


@dataclass(frozen=True)
class OnlineAnswer:
    status: int
    body: bytes
    content_type: str | None = "text/html"


_NO_CONTENT = OnlineAnswer(204, b"", None)
_APPLE = OnlineAnswer(200, APPLE_SUCCESS, "text/html")

# (host, path) -> the exact answer that means "online" to that platform.
PROBES: dict[tuple[str, str], OnlineAnswer] = {
    ("captive.apple.com", "/hotspot-detect.html"): _APPLE,
    ("www.apple.com", "/library/test/success.html"): _APPLE,
    ("connectivitycheck.gstatic.com", "/generate_204"): _NO_CONTENT,
    ("www.google.com", "/gen_204"): _NO_CONTENT,
    ("play.googleapis.com", "/generate_204"): _NO_CONTENT,
    ("clients3.google.com", "/generate_204"): _NO_CONTENT,
    ("www.gstatic.com", "/generate_204"): _NO_CONTENT,
    ("www.msftconnecttest.com", "/connecttest.txt"): OnlineAnswer(200, b"Microsoft Connect Test", "text/plain"),
    ("www.msftncsi.com", "/ncsi.txt"): OnlineAnswer(200, b"Microsoft NCSI", "text/plain"),
    ("detectportal.firefox.com", "/canonical.html"): OnlineAnswer(200, FIREFOX_CANONICAL, "text/html"),
    ("detectportal.firefox.com", "/success.txt"): OnlineAnswer(200, b"success\n", "text/plain"),
    ("nmcheck.gnome.org", "/check_network_status.txt"): OnlineAnswer(200, b"NetworkManager is online\n", "text/plain"),
}

PROBE_PATHS = frozenset(path for _, path in PROBES)
PROBE_HOSTS = frozenset(host for host, _ in PROBES)  # names the cabin DNS answers with the portal


def host_of(request: web.Request) -> str:
    """The Host header without port, lower case."""
    host = (request.headers.get("Host") or "").strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


class CaptiveClients:
    """Which client addresses accepted the portal, forgotten after `inactivity` seconds without a request."""

    def __init__(self, clock: Clock, inactivity: float, max_clients: int = 20000) -> None:
        self._clock = clock
        self._inactivity = inactivity
        self._max = max_clients
        self._seen: dict[str, float] = {}  # address -> monotonic time of its last request

    def accept(self, address: str) -> None:
        if address not in self._seen and len(self._seen) >= self._max and not self.expire():
            del self._seen[min(self._seen, key=self._seen.__getitem__)]  # all active: the longest silent goes
        self._seen[address] = self._clock.monotonic()

    def is_accepted(self, address: str) -> bool:
        seen = self._seen.get(address)
        if seen is None:
            return False
        if self._clock.monotonic() - seen > self._inactivity:
            del self._seen[address]
            return False
        return True

    def touch(self, address: str) -> None:
        """Any request from an accepted client keeps it accepted."""
        if self.is_accepted(address):
            self._seen[address] = self._clock.monotonic()

    def seconds_remaining(self, address: str) -> int:
        seen = self._seen.get(address)
        if seen is None:
            return 0
        return max(0, int(self._inactivity - (self._clock.monotonic() - seen)))

    def expire(self) -> int:
        now = self._clock.monotonic()
        old = [a for a, t in self._seen.items() if now - t > self._inactivity]
        for address in old:
            del self._seen[address]
        return len(old)

    def __len__(self) -> int:
        return len(self._seen)


def probe_answer(request: web.Request, clients: CaptiveClients, welcome_url: str) -> web.Response | None:
    """The answer to a captive-portal probe, or None when this host does not probe this path."""
    answer = PROBES.get((host_of(request), request.path))
    if answer is None:
        return None
    if not clients.is_accepted(request.remote or ""):
        return redirect_response(welcome_url)
    clients.touch(request.remote or "")
    response = web.Response(status=answer.status, body=answer.body)
    if answer.content_type is not None:
        response.content_type = answer.content_type
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect_response(location: str) -> web.Response:
    response = web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})
    return response


def captive_api_body(clients: CaptiveClients, address: str, portal_url: str) -> dict[str, object]:
    """RFC 8908 Captive Portal API state for one client."""
    accepted = clients.is_accepted(address)
    body: dict[str, object] = {
        "captive": not accepted,
        "user-portal-url": portal_url,
        "venue-info-url": portal_url,
        "can-extend-session": True,
    }
    if accepted:
        body["seconds-remaining"] = clients.seconds_remaining(address)
    return body
