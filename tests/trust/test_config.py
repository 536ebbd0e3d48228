"""[trust]: the section's defaults are the contract's, and bad values are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.trust.config import TrustConfig


def test_defaults_and_paths() -> None:
    config = TrustConfig()
    assert config.root == "/etc/appliance/trust/root.json"
    assert config.metadata_path("/var/lib/appliance") == Path("/var/lib/appliance/trust")
    assert TrustConfig(metadata_dir="/x").metadata_path("/var/lib/appliance") == Path("/x")
    config.validate()


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"root": ""}, "root"), ({"path": "tuf"}, "path"), ({"read_timeout_s": 0}, "read_timeout_s"),
    ({"min_rate_bps": -1}, "min_rate_bps"), ({"rate_grace_s": -1}, "rate_grace_s"),
])
def test_bad_values_name_their_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError) as caught:
        TrustConfig(**kwargs).validate()  # type: ignore[arg-type]
    assert caught.value.args[0] == key
