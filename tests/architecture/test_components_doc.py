"""docs/components.md's worked example is real: its code, taken from the page, runs in a real daemon with the
real maintenance listener (config section, service, metric, status section, route)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from appliance import maintenance
from appliance.appconfig import parse_config
from appliance.config import ConfigError
from appliance.core.registry import load_specs
from appliance.core.testing import build_alone
from appliance.daemon import Daemon
from tests.conftest import free_port
from tests.ops_support import write_token

DOC = Path(__file__).resolve().parents[2] / "docs" / "components.md"


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None, "docs/components.md has no python example"
    package = tmp_path / "pkgs" / "crew_notes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(code.group(1))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    yield "crew_notes"
    sys.modules.pop("crew_notes", None)


def test_the_example_builds_alone_and_checks_its_section(example: str) -> None:
    (spec,) = load_specs([example])
    notes = build_alone(spec, {"max_notes": 2})
    for text in ("one", "two", "three"):
        notes.add(text)
    assert notes.notes == ["two", "three"] and notes.health().reason == "2 note(s)"
    with pytest.raises(ConfigError, match=r"crew_notes\.max_notes: must be at least 1"):
        parse_config({"crew_notes": {"max_notes": 0}}, "aircraft.toml", [spec])


async def test_the_example_runs_in_the_daemon(example: str, tmp_path: Path) -> None:
    specs = [*load_specs([example]), maintenance.COMPONENT]
    token = write_token(tmp_path / "maintenance.token")
    port = free_port()
    document = {"crew_notes": {"max_notes": 5},
                "maintenance": {"listen": f"127.0.0.1:{port}", "token_file": str(tmp_path / "maintenance.token")}}
    daemon = Daemon(parse_config(document, "test", specs), specs=specs)
    run = asyncio.create_task(daemon.run())
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                if daemon.lifecycle.ready:
                    break
                await asyncio.sleep(0.05)
            async with s.post(f"{url}/api/v1/crew-notes", json={"text": "seat 12C light"}, headers=auth) as r:
                assert r.status == 201 and await r.json() == {"notes": 1}
            async with s.post(f"{url}/api/v1/crew-notes", data=b"[", headers=auth) as r:
                assert r.status == 400 and "error" in await r.json()
            async with s.post(f"{url}/api/v1/crew-notes", json={"text": "x"}) as r:
                assert r.status == 401  # behind the listener's token like every route
            async with s.get(f"{url}/api/v1/status", headers=auth) as r:
                body = await r.json()
            assert body["crew_notes"] == {"count": 1, "latest": "seat 12C light"}
            assert [c["name"] for c in body["components"]] == ["crew_notes", "maintenance"]
            async with s.get(f"{url}/metrics", headers=auth) as r:
                assert "appliance_crew_notes_total 1.0" in await r.text()
    finally:
        daemon.request_stop("test")
        assert await asyncio.wait_for(run, 10) == 0
