from __future__ import annotations

from pathlib import Path

import pytest

from tests.trust.support import Ground


@pytest.fixture
def ground(tmp_path: Path) -> Ground:
    g = Ground(tmp_path / "keys", tmp_path / "repo")
    g.init()
    return g
