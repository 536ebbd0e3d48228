"""The ground's certificate desk: aircraft send a CSR for a key they made on board; the fleet's CA signs it and
the airline's pipeline publishes the certificate as the signed TUF target `certificates/<aircraft>/cert.pem`
(the real `appliance trust publish`), also served as a static file. The private key never comes here.

The CA is a throwaway one made at start (standing for the public CA the airline's ACME client finalises the
aircraft's CSR with), or the one in `ca_dir` (`ca.pem`, `ca.key`: `make run`'s local CA, so the certificate the
ground issues is trusted where the simulator's was).

Service listener:
  POST /certificates/{aircraft}/csr   {"aircraft", "csr": PEM}: 201 {"status": "issued"} (signed and published),
                                      202 {"status": "pending"} (held for the pipeline), 4xx with a reason (a
                                      CSR that does not verify, a name the fleet does not use, a bad body)
  GET  /certificates/{aircraft}/cert.pem   the published certificate (404 until there is one)
Control (the simulator's control listener):
  GET  /ground/certificates           requests, issued, the knobs
  PUT  /ground/certificates           {"mode": MODE, "names": [...], "days": 90, "ca_dir": PATH}
  POST /ground/certificates/issue     {"aircraft": ID}: the pipeline issues a held request now
Modes (what a broken pipeline or an attacker could put in front of the aircraft):
  issue (default)  sign and publish at once       hold        accept, issue only on /ground/certificates/issue
  wrong_name       signed for another.example     wrong_key   signed for a key the aircraft does not hold
  unsigned         the file served, never signed  (the TUF knob tampered_target flips a byte of the served file)
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from firmware_sim.ground.wire import error, read_json

MODES = ("issue", "hold", "wrong_name", "wrong_key", "unsigned")
AIRCRAFT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
MAX_CSR = 16 * 1024

Publish = Callable[[list[Path], str], Awaitable[None]]  # (paths, prefix): `appliance trust publish`


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*san.get_values_for_type(x509.DNSName), *map(str, san.get_values_for_type(x509.IPAddress))]


class CertificateDesk:
    def __init__(self, work_dir: Path, publish: Publish, now: Callable[[], datetime],
                 tampered: Callable[[], bool] = lambda: False) -> None:
        self.dir = work_dir
        self.publish = publish
        self.now = now
        self.tampered = tampered
        self.mode = "issue"
        self.names = ["portal.cabin.test"]  # what the fleet's certificates may name (portal.public_host)
        self.days = 90.0
        self.ca_dir: str | None = None
        self._ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None
        self.requests: dict[str, dict[str, Any]] = {}  # aircraft -> the last request
        self.issued: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    # --- the CA -------------------------------------------------------------------------------------------

    def ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        if self._ca is None:
            if self.ca_dir is not None:
                key = serialization.load_pem_private_key((Path(self.ca_dir) / "ca.key").read_bytes(), None)
                if not isinstance(key, ec.EllipticCurvePrivateKey):
                    raise ValueError("ca.key is not an EC key")
                self._ca = (key, x509.load_pem_x509_certificate((Path(self.ca_dir) / "ca.pem").read_bytes()))
            else:
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "simulated fleet CA")])
                start = self.now() - timedelta(days=1)
                cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                        .serial_number(x509.random_serial_number()).not_valid_before(start)
                        .not_valid_after(start + timedelta(days=3650))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .sign(key, hashes.SHA256()))
                self._ca = (key, cert)
        return self._ca

    def ca_pem(self) -> bytes:
        return self.ca()[1].public_bytes(serialization.Encoding.PEM)

    def sign(self, public_key: Any, names: list[str], days: float) -> bytes:
        ca_key, ca_cert = self.ca()
        start = self.now() - timedelta(hours=1)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(ca_cert.subject).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    def served_path(self, aircraft: str) -> Path:
        return self.dir / aircraft / "cert.pem"

    async def issue(self, aircraft: str) -> dict[str, Any]:
        """Sign the aircraft's pending CSR under the current mode and publish it. Raises KeyError (no request),
        RuntimeError (the trust tool failed)."""
        async with self._lock:
            request = self.requests[aircraft]
            csr = x509.load_pem_x509_csr(request["csr"].encode())
            names, public_key = _csr_names(csr), csr.public_key()
            if self.mode == "wrong_name":
                names = ["another.example"]
            if self.mode == "wrong_key":
                public_key = ec.generate_private_key(ec.SECP256R1()).public_key()
            pem = await asyncio.to_thread(self.sign, public_key, names, self.days)
            path = self.served_path(aircraft)
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_name(".cert.pem.new")
            staged.write_bytes(pem)
            if self.mode != "unsigned":  # the airline's pipeline: sign first, then serve
                await self.publish([_as_cert(staged)], f"certificates/{aircraft}")
            staged.replace(path)
            request["status"] = "issued"
            record = {"aircraft": aircraft, "mode": self.mode, "names": names, "days": self.days,
                      "signed": self.mode != "unsigned"}
            self.issued.append(record)
            return record

    # --- service routes -------------------------------------------------------------------------------------

    async def post_csr(self, request: web.Request) -> web.Response:
        aircraft = request.match_info["aircraft"]
        if not AIRCRAFT.fullmatch(aircraft):
            return error(404, "no such aircraft")
        raw = await request.content.read(MAX_CSR + 1)
        if len(raw) > MAX_CSR:
            return error(413, f"a certificate request is at most {MAX_CSR} bytes")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(400, "the body is not JSON")
        if not isinstance(body, dict) or body.get("aircraft") != aircraft or not isinstance(body.get("csr"), str):
            return error(400, 'expected {"aircraft": the name in the path, "csr": PEM}')
        try:
            csr = x509.load_pem_x509_csr(body["csr"].encode())
        except ValueError:
            return error(400, "csr is not a PEM certificate request")
        if not csr.is_signature_valid:
            return error(422, "the request is not signed by its own key")
        names = _csr_names(csr)
        if not names or set(names) - set(self.names):
            return error(422, f"the fleet's certificates name only {', '.join(self.names)}; asked: "
                               f"{', '.join(names) or 'nothing'}")
        spki = csr.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        # asked again for the same key: the aircraft did not get a usable certificate, so it is issued again
        self.requests[aircraft] = {"csr": body["csr"], "spki": spki, "status": "pending", "names": names}
        if self.mode == "hold":
            return web.json_response({"status": "pending"}, status=202)
        try:
            await self.issue(aircraft)
        except RuntimeError as problem:
            return error(503, f"issuing failed: {problem}")
        return web.json_response({"status": "issued"}, status=201)

    async def get_cert(self, request: web.Request) -> web.Response:
        aircraft = request.match_info["aircraft"]
        path = self.served_path(aircraft) if AIRCRAFT.fullmatch(aircraft) else None
        if path is None or not path.is_file():
            return error(404, "no certificate published for this aircraft")
        body = path.read_bytes()
        if self.tampered():
            flipped = bytearray(body)
            flipped[len(flipped) // 2] ^= 0x01
            body = bytes(flipped)
        return web.Response(body=body, content_type="application/x-pem-file")

    # --- control routes -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"mode": self.mode, "names": list(self.names), "days": self.days, "ca_dir": self.ca_dir,
                "requests": {a: {"status": r["status"], "names": r["names"]} for a, r in self.requests.items()},
                "issued": list(self.issued)}

    def configure(self, body: Any) -> None:
        """Raises ValueError with a message for the control client."""
        if not isinstance(body, dict) or set(body) - {"mode", "names", "days", "ca_dir"}:
            raise ValueError('expected {"mode", "names", "days", "ca_dir"}')
        mode, names, days = body.get("mode", self.mode), body.get("names", self.names), body.get("days", self.days)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError("names must be a non-empty list of host names")
        if not isinstance(days, int | float) or isinstance(days, bool) or not 0 < days <= 3650:
            raise ValueError("days must be a number in (0, 3650]")
        if "ca_dir" in body:
            ca_dir = body["ca_dir"]
            if ca_dir is not None and not (isinstance(ca_dir, str) and (Path(ca_dir) / "ca.key").is_file()):
                raise ValueError("ca_dir must be null or a directory with ca.pem and ca.key")
            self.ca_dir, self._ca = ca_dir, None
            self.ca()  # a CA that does not load is refused now, not at the first request
        self.mode, self.names, self.days = mode, list(names), float(days)

    async def put(self, request: web.Request) -> web.Response:
        try:
            self.configure(await read_json(request))
        except (ValueError, OSError) as problem:
            return error(400, str(problem))
        return web.json_response(self.state())

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def post_issue(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        aircraft = body.get("aircraft") if isinstance(body, dict) else None
        if not isinstance(aircraft, str) or aircraft not in self.requests:
            return error(404, "no certificate request from that aircraft")
        try:
            return web.json_response(await self.issue(aircraft), status=201)
        except RuntimeError as problem:
            return error(502, str(problem))


def _as_cert(staged: Path) -> Path:
    """The staged file under the name the target takes (`cert.pem`), in a directory of its own."""
    signing = staged.parent / ".signing" / "cert.pem"
    signing.parent.mkdir(exist_ok=True)
    signing.write_bytes(staged.read_bytes())
    return signing


def add_certificate_routes(app: web.Application, desk: CertificateDesk) -> None:
    app.router.add_post("/certificates/{aircraft}/csr", desk.post_csr)
    app.router.add_get("/certificates/{aircraft}/cert.pem", desk.get_cert)


def add_certificate_control(app: web.Application, desk: CertificateDesk) -> None:
    app.router.add_get("/ground/certificates", desk.get)
    app.router.add_put("/ground/certificates", desk.put)
    app.router.add_post("/ground/certificates/issue", desk.post_issue)
