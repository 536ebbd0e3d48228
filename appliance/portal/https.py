"""The portal's HTTPS side: whether it serves, where, which pair; the `Certificates` service the ground's signed
certificate targets are installed through (appliance/ports/).

While HTTPS serves (`active`), the plain listener keeps only the OS captive-portal probes and redirects every
other request to the same path over HTTPS; the RFC 8908 API answers only over HTTPS. Without a pair (a fresh
install, a simulator run without `--tls`) everything stays on HTTP as before and health warns.

Failure semantics: `install` never raises (a refusal, with the old pair still served, has a reason, is logged
and counted in `refusals`); `load_initial` never raises (a pair on disk that does not check out is logged and
HTTP stays the only listener).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from appliance.portal.tls import Pair, PairStore, TlsEndpoint, check_pair
from appliance.ports import CertificateInstall

log = logging.getLogger("appliance.portal.tls")


class Https:
    """HTTPS state shared by the handlers (through Services) and the component that runs the listener."""

    def __init__(self, listen: str = "", public_host: str = "", margin_days: int = 14,
                 store: PairStore | None = None, configured: Pair | None = None) -> None:
        self.listen = listen
        self.public_host = public_host
        self.margin = timedelta(days=margin_days)
        self.store = store
        self.configured = configured
        self.endpoint = TlsEndpoint()
        self.port: int | None = None  # the HTTPS listener's port once it listens
        self.refusals: dict[str, int] = {}
        self.last_refusal = ""
        self.installs = 0
        self.on_first_pair: Callable[[], None] | None = None  # the component starts the listener then

    @property
    def active(self) -> bool:
        """HTTPS serves: the listener is up with a pair loaded."""
        return self.port is not None and self.endpoint.loaded is not None

    @property
    def has_pair(self) -> bool:
        return self.endpoint.loaded is not None

    @property
    def enabled(self) -> bool:
        """appliance.ports.Certificates.enabled: `portal.tls_listen` is set."""
        return bool(self.listen)

    def served(self) -> CertificateInstall | None:
        """appliance.ports.Certificates.served: the facts of the pair in use."""
        return self.endpoint.loaded

    def origin(self, request: web.BaseRequest) -> str:
        """`https://<public_host>[:port]`: where the plain listener sends everyone."""
        host = self.public_host or _own_address(request)
        port = "" if self.port in (None, 443) else f":{self.port}"
        return f"https://{host}{port}"

    def load_initial(self, now: datetime) -> None:
        """At start: the installed pair, else the configured one, when it checks out at `now` (no margin)."""
        for pair in (self.store.current() if self.store is not None else None, self.configured):
            if pair is None:
                continue
            try:
                cert_pem, key_pem = pair.cert.read_bytes(), pair.key.read_bytes()
            except OSError as error:
                log.warning("HTTPS pair %s unreadable: %s", pair.cert, error)
                continue
            facts = check_pair(cert_pem, key_pem, self.public_host, now, timedelta(0))
            if not facts.installed:
                log.warning("HTTPS pair %s not served: %s", pair.cert, facts.reason)
                self._refused(facts.reason)
                continue
            try:
                self.endpoint.load(pair, facts)
            except (ssl.SSLError, OSError) as error:
                log.warning("HTTPS pair %s not loaded: %s", pair.cert, error)
                continue
            return

    def install(self, cert_pem: bytes, key_pem: bytes, reference_time: datetime) -> CertificateInstall:
        """appliance.ports.Certificates.install."""
        facts = check_pair(cert_pem, key_pem, self.public_host, reference_time, self.margin)
        if not facts.installed:
            return self._refused(facts.reason, facts)
        if self.store is None:
            return self._refused("no state directory to keep the certificate in", facts)
        try:
            pair = self.store.install(cert_pem, key_pem, facts.fingerprint)
            first = not self.has_pair
            self.endpoint.load(pair, facts)
        except (OSError, ssl.SSLError) as error:
            return self._refused(f"the pair could not be installed: {error}", facts)
        self.installs += 1
        if first and self.on_first_pair is not None:
            self.on_first_pair()
        return facts

    def _refused(self, reason: str, facts: CertificateInstall | None = None) -> CertificateInstall:
        key = reason.split(" (", 1)[0].split(":", 1)[0][:60]
        self.refusals[key] = self.refusals.get(key, 0) + 1
        self.last_refusal = reason
        log.warning("HTTPS certificate refused: %s (the old one, if any, is kept)", reason)
        if facts is None:
            return CertificateInstall(False, reason)
        return CertificateInstall(False, reason, facts.names, facts.not_after, facts.fingerprint)

    def status(self) -> dict[str, object]:
        loaded = self.endpoint.loaded
        return {
            "listen": self.listen or None,
            "serving": self.active,
            "names": list(loaded.names) if loaded else [],
            "not_after": loaded.not_after.isoformat() if loaded and loaded.not_after else None,
            "fingerprint": loaded.fingerprint if loaded else None,
            "installs": self.installs,
            "last_refusal": self.last_refusal or None,
        }


def _own_address(request: web.BaseRequest) -> str:
    transport = request.transport
    name = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(name, tuple) or not name:
        return "portal.invalid"
    return f"[{name[0]}]" if ":" in str(name[0]) else str(name[0])


def redirect_to_https(request: web.BaseRequest, https: Https) -> web.Response:
    """The plain listener's answer to everything but the probes while HTTPS serves: the same path and query
    over HTTPS (301 for GET and HEAD, 308 otherwise so a form keeps its method and body)."""
    status = 301 if request.method in ("GET", "HEAD") else 308
    return web.Response(status=status, headers={"Location": https.origin(request) + request.path_qs,
                                                "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def utc_now(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, UTC)


def configured_pair(cert: str, key: str) -> Pair | None:
    return Pair(Path(cert), Path(key)) if cert and key else None
