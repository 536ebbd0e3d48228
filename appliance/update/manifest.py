"""A release's manifest, `release.json`: its version, the Python it was built for, the state formats it reads
and writes (appliance.fs.formats), and its wheels (name, size, SHA-256).

A release directory is `appliance-<version>/` holding `release.json` and `wheels/*.whl`; `appliance trust
publish --prefix releases DIR` signs each file as the target `releases/appliance-<version>/<path>`.
`parse` raises ManifestError (never anything else) for a manifest that is not one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from appliance.fs import formats

MANIFEST = "release.json"
SCHEMA = 1
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
_WHEEL = re.compile(r"^[0-9A-Za-z._+-]+\.whl$")


class ManifestError(ValueError):
    """Not a release manifest (the message says which key)."""


@dataclass(frozen=True)
class Wheel:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Release:
    version: str
    python: str  # "3.11": the interpreter's major.minor the wheels were built for
    requirement: str  # what `pip install` is asked for ("appliance==1.2.0")
    state_formats: dict[str, dict[str, list[int]]]
    wheels: tuple[Wheel, ...] = field(default_factory=tuple)

    def to_json(self) -> bytes:
        return json.dumps({
            "schema": SCHEMA, "version": self.version, "python": self.python, "requirement": self.requirement,
            "state_formats": self.state_formats,
            "wheels": [{"name": w.name, "size": w.size, "sha256": w.sha256} for w in self.wheels],
        }, indent=1, sort_keys=True).encode()


def valid_version(version: str) -> bool:
    return bool(_VERSION.match(version)) and ".." not in version


def dir_name(version: str) -> str:
    return f"appliance-{version}"


def parse(data: bytes) -> Release:
    try:
        doc = json.loads(data)
    except ValueError as error:
        raise ManifestError(f"not JSON: {error}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ManifestError(f"schema: expected {SCHEMA}")
    version, python, requirement = doc.get("version"), doc.get("python"), doc.get("requirement")
    if not isinstance(version, str) or not valid_version(version):
        raise ManifestError("version: expected a version string")
    if not isinstance(python, str) or not re.match(r"^3\.\d+$", python):
        raise ManifestError("python: expected e.g. 3.11")
    if not isinstance(requirement, str) or not requirement:
        raise ManifestError("requirement: expected a pip requirement")
    try:
        state = formats.parse_declared(doc.get("state_formats"))
    except ValueError as error:
        raise ManifestError(str(error)) from None
    wheels: list[Wheel] = []
    raw_wheels: Any = doc.get("wheels")
    if not isinstance(raw_wheels, list) or not raw_wheels:
        raise ManifestError("wheels: expected a non-empty list")
    for item in raw_wheels:
        if not isinstance(item, dict):
            raise ManifestError("wheels: expected objects")
        name, size, sha = item.get("name"), item.get("size"), item.get("sha256")
        if not isinstance(name, str) or not _WHEEL.match(name):
            raise ManifestError(f"wheels: bad name {name!r}")
        if not isinstance(size, int) or size < 0 or not isinstance(sha, str) or not re.match(r"^[0-9a-f]{64}$", sha):
            raise ManifestError(f"wheels: bad size or sha256 for {name}")
        wheels.append(Wheel(name, size, sha))
    return Release(version, python, requirement, state, tuple(wheels))
