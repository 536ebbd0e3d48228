"""The passenger portal over HTTPS, as a passenger's own browser meets it after the captive portal: a real
portal rig (tests/portal/conftest.py) with a certificate from a throwaway CA for the cabin name, and Debian's
Chromium resolving that name to the rig and taking the rig's certificate (the leaf's SPKI, as
tests/network does): a secure context, so service workers and the Cache API are there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from appliance.tlsca import LocalCA, spki_hash
from tests.conftest import free_port
from tests.portal.conftest import ARGS, CHROMIUM, PortalRig, running_rig

HOST = "portal.cabin.test"


@dataclass
class HttpsRig:
    rig: PortalRig
    origin: str  # https://portal.cabin.test:<port>
    spki: str  # the served certificate's, for Chromium

    @property
    def port(self) -> int:
        assert self.rig.portal.https_address is not None
        return int(self.rig.portal.https_address[1])


@contextlib.asynccontextmanager
async def https_rig(tmp_path: Path, **options: Any) -> AsyncIterator[HttpsRig]:
    """A portal rig serving HTTPS for HOST with a certificate of a new local CA (`options`: start_rig's)."""
    issued = LocalCA.create().issue([HOST], days=60)
    (tmp_path / "cert.pem").write_bytes(issued.cert_pem)
    (tmp_path / "key.pem").write_bytes(issued.key_pem)
    async with running_rig(tmp_path, public_host=HOST, tls_listen=f"127.0.0.1:{free_port()}",
                           tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"),
                           **options) as rig:
        assert rig.portal.https_address is not None
        yield HttpsRig(rig, f"https://{HOST}:{rig.portal.https_address[1]}", spki_hash(issued.cert_pem))


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[HttpsRig]:
    async with https_rig(tmp_path) as r:
        yield r


@contextlib.asynccontextmanager
async def chromium(rig: HttpsRig) -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with HOST resolving to loopback and the rig's certificate accepted."""
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=[
            *ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={rig.spki}"])
        try:
            yield b
        finally:
            await b.close()


async def phone(browser: Browser, **options: Any) -> BrowserContext:
    """A phone-sized context (a passenger's own browser keeps its storage for the life of the context)."""
    return await browser.new_context(viewport={"width": 412, "height": 915}, device_scale_factor=2,
                                     **options)
