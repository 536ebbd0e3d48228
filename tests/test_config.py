from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.appconfig import load_config
from appliance.config import EX_CONFIG, ConfigError
from tests.conftest import python_module, subprocess_env

GOOD = """
[avionics]
port = "/dev/ttyUSB0"
[modem]
port = "/dev/ttyUSB2"
[groundlink]
url = "https://ground.example/"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "appliance.toml"
    path.write_text(text)
    return path


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.avionics.port == "/dev/ttyUSB0"
    assert config.avionics.baudrate == 921600
    assert config.storage.dir == "/var/lib/appliance"


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        ('[avionics]\nport = "/dev/x"\nbaudrate = "fast"\n', "avionics.baudrate", "expected int"),
        ('[avionics]\nport = "/dev/x"\nbaudrat = 9600\n', "avionics.baudrat", "unknown key"),
        ("[avionics]\n", "avionics.port", "required key is missing"),
        ('[portal]\nprofile = "sea"\n[avionics]\nport = "x"\n', "portal.profile", "expected one of"),
        ('[avionic]\nport = "x"\n', "avionic", "unknown section"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, extra: str, key: str, words: str) -> None:
    text = extra + '[modem]\nport = "m"\n[groundlink]\nurl = "u"\n'
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert str(path) in str(caught.value)
    assert words in str(caught.value)


def test_missing_section_names_its_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[avionics]\nport = "x"\n[groundlink]\nurl = "u"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "modem.port"


def test_not_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "[avionics\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_run_with_bad_config_exits_78_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('port = "/dev/ttyUSB0"', "port = 5"))
    result = subprocess.run(
        python_module("appliance", "run", "--config", str(path)),
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
    )
    assert result.returncode == EX_CONFIG
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "avionics.port" in lines[0]
