"""Shared test helpers: run the real programs as subprocesses, find free ports."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# lgpio makes notification pipes in LG_WD, read once when it is imported (else in the working directory: the
# checkout); the unit sets /run/appliance on the aircraft
os.environ.setdefault("LG_WD", tempfile.mkdtemp(prefix="lgpio-"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with long-running tests (marked slow: the storms, crash harnesses, the full day) first, whole
    and in their order, then the rest: the two workers of `make test` start them early and end together,
    instead of one running a 3-minute storm alone at the end of the run. Whole files: a module fixture
    (a recorded crash trace, built releases) is still set up once."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child `python -m appliance` / `python -m firmware_sim`: the checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def artifacts_dir() -> Path:
    path = REPO / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
