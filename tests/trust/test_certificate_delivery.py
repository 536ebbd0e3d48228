"""The HTTPS certificate from the ground (docs/tls.md): the aircraft's own key, its CSR sent in the ground window,
the certificate signed by the simulated station's CA and published as a signed TUF target, verified and
installed by the daemon's real ground link, trust and portal components; a real TLS client checks what is
served. Tampered, unsigned, wrong-name and wrong-key certificates are refused with the old one still served;
a renewal swaps in while SSE clients stay connected."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appliance import content, groundlink, portal, storage, trust
from appliance.groundlink.certificates import KEY_FILE
from firmware_sim.ground.station import GroundStation
from tests.component_rig import rig_for, started
from tests.trust.daemon_support import Plane

HOST = "portal.cabin.test"
AIRCRAFT = "EC-MXV"
TARGET = f"certificates/{AIRCRAFT}/cert.pem"
SPECS = [storage.COMPONENT, trust.COMPONENT, content.COMPONENT, groundlink.COMPONENT, portal.COMPONENT]


class Cabin(Plane):
    @property
    def portal(self) -> Any:
        return self.parts["portal"]

    @property
    def step(self) -> Any:
        return self.link.certificate

    @property
    def desk(self) -> Any:
        assert self.station is not None
        return self.station.certificates

    def tls_port(self) -> int | None:
        address = self.portal.https_address
        return None if address is None else int(address[1])

    async def served(self) -> str:
        """SHA-256 of the leaf a new TLS connection gets, verified for HOST against the ground's CA."""
        port = self.tls_port()
        assert port is not None, "HTTPS is not serving"
        context = ssl.create_default_context(cadata=self.desk.ca_pem().decode())
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=HOST)
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return hashlib.sha256(der).hexdigest()

    def published(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.desk.served_path(AIRCRAFT).read_bytes())


def sha256_der(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@asynccontextmanager
async def cabin(tmp_path: Path, *, days: float = 90.0, mode: str = "issue", bootstrap_days: float | None = None,
                **portal_keys: Any) -> AsyncIterator[Cabin]:
    """A started station (its CA names HOST) and the aircraft's storage, trust, content, ground link and portal
    built from their specs as the daemon builds them. `bootstrap_days`: the image ships a pair (signed by the
    ground's CA) as portal.tls_cert / tls_key, valid that long."""
    station = GroundStation(publish_sample=False)
    await station.start()
    station.certificates.configure({"names": [HOST], "days": days, "mode": mode})
    state = tmp_path / "state"
    portal_section: dict[str, Any] = {"listen": "127.0.0.1:0", "tls_listen": "127.0.0.1:0", "public_host": HOST,
                                      **portal_keys}
    if bootstrap_days is not None:
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        cert = station.certificates.sign(key.public_key(), [HOST], bootstrap_days)
        (tmp_path / "boot-cert.pem").write_bytes(cert)
        (tmp_path / "boot-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        portal_section |= {"tls_cert": str(tmp_path / "boot-cert.pem"), "tls_key": str(tmp_path / "boot-key.pem")}
    document = {
        "storage": {"dir": str(state)},
        "content": {"dir": str(state / "content")},
        "trust": {"root": str(station.tuf.pinned_root()), "read_timeout_s": 2.0},
        "groundlink": {"url": station.url, "poll_seconds": 0.05, "backoff_initial": 0.01, "backoff_max": 0.05,
                       "request_timeout": 5.0, "modem_required": False, "flight_required": False,
                       "aircraft": AIRCRAFT, "schedule": False},
        "portal": portal_section,
    }
    rig = rig_for(SPECS, document)
    try:
        async with started(rig, SPECS) as parts:
            yield Cabin(rig, station, parts)
    finally:
        await station.stop()


async def test_the_first_window_sends_the_csr_and_the_signed_certificate_is_served(tmp_path: Path) -> None:
    async with cabin(tmp_path, mode="hold") as plane:
        assert plane.tls_port() is None and plane.portal.health().status == "warn"  # no certificate yet
        await plane.cycle()
        request = plane.desk.requests.get(AIRCRAFT)
        assert request is not None and request["status"] == "pending", plane.step.snapshot()
        key_file = tmp_path / "state" / "groundlink-certificate" / KEY_FILE
        assert key_file.stat().st_mode & 0o077 == 0
        on_board = serialization.load_pem_private_key(key_file.read_bytes(), None)
        csr = x509.load_pem_x509_csr(request["csr"].encode())
        assert "PRIVATE KEY" not in request["csr"]  # only the CSR crossed the link
        assert csr.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == \
            on_board.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        await plane.cycle()  # still held on the ground: nothing to take, the CSR sent again
        assert plane.tls_port() is None and plane.step.snapshot()["state"] == "requested"
        # the airline's pipeline issues it (signed target); the next window takes it
        await plane.desk.issue(AIRCRAFT)
        assert plane.trust.signed() is not None
        await plane.sync(lambda: plane.tls_port() is not None, "HTTPS with the ground's certificate")
        assert await plane.served() == sha256_der(plane.published())
        assert plane.portal.health().status == "pass"
        assert not key_file.exists()  # the request is over; the installed pair keeps the key (0600)
        installed = tmp_path / "state" / "tls" / "current" / "key.pem"
        assert installed.stat().st_mode & 0o077 == 0
        assert plane.step.snapshot()["state"] == "installed"
        assert plane.refusals("length_or_hash") == plane.refusals("unknown_target") == 0


async def test_issued_at_once_the_certificate_arrives_in_the_same_window(tmp_path: Path) -> None:
    async with cabin(tmp_path) as plane:
        await plane.cycle()
        assert plane.tls_port() is not None, plane.step.snapshot()
        assert await plane.served() == sha256_der(plane.published())
        sent = plane.step.requests_sent
        await plane.cycle()  # 90 days left: nothing asked
        assert plane.step.requests_sent == sent and plane.step.snapshot()["state"] == "current"


@pytest.mark.parametrize(("attack", "mode", "reason"), [
    ("tampered_target", "issue", "length_or_hash"),
    (None, "unsigned", "unknown_target"),
], ids=["tampered", "unsigned"])
async def test_a_tampered_or_unsigned_certificate_is_refused_and_the_old_one_served(
        tmp_path: Path, attack: str | None, mode: str, reason: str) -> None:
    async with cabin(tmp_path, mode=mode, bootstrap_days=20) as plane:  # 20 days left: renewal due
        old = await plane.served()
        if attack is not None:
            plane.station.tuf.configure({"attack": attack})  # type: ignore[union-attr]
        await plane.cycle()
        assert plane.refusals(reason) >= 1, plane.step.snapshot()
        assert plane.trust.health().status == "warn"
        assert await plane.served() == old
        assert plane.step.snapshot()["state"] == "refused"
        # the honest ground again: the signed certificate is taken
        plane.station.tuf.configure({"attack": None})  # type: ignore[union-attr]
        plane.desk.configure({"mode": "issue"})
        await plane.sync(lambda: plane.step.installed == 1, "the genuine certificate")
        assert await plane.served() == sha256_der(plane.published()) != old


@pytest.mark.parametrize(("mode", "why"), [
    ("wrong_name", "does not name portal.cabin.test"),
    ("wrong_key", "does not match"),
], ids=["wrong-name", "wrong-key"])
async def test_a_signed_certificate_for_the_wrong_name_or_key_is_refused(tmp_path: Path, mode: str,
                                                                         why: str) -> None:
    async with cabin(tmp_path, mode=mode, bootstrap_days=20) as plane:
        old = await plane.served()
        await plane.cycle()
        https = plane.portal.services.https
        assert why in https.last_refusal, (https.last_refusal, plane.step.snapshot())
        assert await plane.served() == old
        assert plane.refusals("length_or_hash") == 0  # it was the signed target: the portal refused it
        plane.desk.configure({"mode": "issue"})
        await plane.sync(lambda: plane.step.installed == 1, "a good certificate after the refusal")
        assert await plane.served() == sha256_der(plane.published()) != old


async def _sse_client(plane: Cabin, ticks: list[int], index: int) -> None:
    port = plane.tls_port()
    assert port is not None
    context = ssl.create_default_context(cadata=plane.desk.ca_pem().decode())
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=HOST)
    writer.write(f"GET /api/v1/flight/stream HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n\r\n"
                 .encode())
    try:
        while line := await reader.readline():
            if line.startswith(b"id: "):
                ticks[index] += 1
    finally:
        writer.close()


async def test_renewal_before_the_margin_swaps_in_with_sse_clients_connected(tmp_path: Path) -> None:
    async with cabin(tmp_path, days=20, sse_interval_seconds=0.2, sse_max_per_address=300,
                     max_connections_per_address=400) as plane:
        await plane.cycle()  # the first certificate: 20 days, inside the 30-day renewal time
        first = plane.published()
        assert await plane.served() == sha256_der(first)
        clients = 100
        ticks = [0] * clients
        tasks = [asyncio.create_task(_sse_client(plane, ticks, i)) for i in range(clients)]
        try:
            for _ in range(200):
                if all(ticks):
                    break
                await asyncio.sleep(0.05)
            assert all(ticks), f"{sum(1 for t in ticks if not t)} clients got no tick"
            plane.desk.configure({"days": 90})
            await plane.cycle()  # due: a new key, a new CSR, the renewed certificate
            renewed = plane.published()
            assert await plane.served() == sha256_der(renewed) != sha256_der(first)
            assert renewed.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo) != \
                first.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)  # a new key
            before = list(ticks)
            await asyncio.sleep(1.0)
            assert not any(t.done() for t in tasks), "an SSE client was dropped by the renewal"
            assert all(after > b for after, b in zip(ticks, before, strict=True)), "a client stopped getting ticks"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
