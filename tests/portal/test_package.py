"""A non-editable install ships the passenger web app: every static file (each script index.html loads among them),
the vendored libraries' licences."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("appliance", "hal", "firmware_sim")
NOT_SHIPPED = {"appliance/portal/vendor.sh"}  # refreshes static/vendor from npm: a developer's tool


def data_files() -> dict[str, Path]:
    """Every non-Python file of the packages' source trees, by its path inside the wheel."""
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                name = path.relative_to(ROOT).as_posix()
                if name not in NOT_SHIPPED:
                    files[name] = path
    return files


def test_the_wheel_ships_every_static_file_and_the_vendored_licences(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: an in-tree build would leave build/ and *.egg-info behind
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                   check=True, timeout=120, cwd=tmp_path)
    (wheel,) = out.glob("appliance-*.whl")
    expected = data_files()
    static = [name for name in expected if name.startswith("appliance/portal/static/")]
    licences = {"appliance/portal/static/vendor/VERSIONS", "appliance/portal/static/vendor/world-atlas.LICENSE",
                "appliance/portal/static/vendor/topojson-client.LICENSE",
                "appliance/portal/static/vendor/hls.js.LICENSE"}
    assert licences <= set(static) and "appliance/portal/static/index.html" in static
    index = (ROOT / "appliance/portal/static/index.html").read_text(encoding="utf-8")
    scripts = [f"appliance/portal/static/{src}" for src in re.findall(r'<script src="/static/([^"]+)"', index)]
    assert len(scripts) >= 6 and scripts[-1].endswith("/app.js")  # the vendored map library and the app's files
    assert set(scripts) <= set(static), "index.html loads a script that is not in the tree"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        missing = sorted(set(expected) - names)
        assert not missing, f"left out of the wheel: {missing}"
        for name, path in expected.items():
            assert archive.read(name) == path.read_bytes(), name
    assert "appliance/portal/vendor.sh" not in names
