"""The label table (labels.csv, one row per label) loaded into typed rows.

Columns: name, label (octal, as people write it), format (BNR / BCD / ISO5), layout (empty for the generic
codec of the format, else `utc` 150, `date` 260, `pair` 233-236, `block` 360), sig_bits, range (full scale;
BNR LSB = range / 2**sig_bits), signed (1: the range is ±range), units, display (`0-360`: shown as a bearing),
min/max transmit interval in ms.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

#: Labels whose bits 9-10 carry data instead of an SDI.
NO_SDI_LABELS = frozenset({"310", "311", "360"})


@dataclass(frozen=True, slots=True)
class LabelSpec:
    name: str
    label: str  # octal, e.g. "203"
    format: str  # BNR | BCD | ISO5
    layout: str  # "" | utc | date | pair | block
    sig_bits: int
    range: float
    signed: bool
    units: str
    display: str  # "" | "0-360"
    min_interval_ms: float
    max_interval_ms: float
    description: str

    @property
    def code(self) -> int:
        """The label as a number (203 octal -> 131)."""
        return int(self.label, 8)

    @property
    def lsb(self) -> float:
        """Weight of the least significant bit (BNR: range / 2**N; BCD: 1)."""
        if self.format == "BNR" and self.sig_bits:
            return self.range / (1 << self.sig_bits)
        return 1.0

    @property
    def has_sdi(self) -> bool:
        return self.label not in NO_SDI_LABELS

    @property
    def stale_after_s(self) -> float:
        """A value older than 3x the maximum transmit interval is stale."""
        return 3 * self.max_interval_ms / 1000.0


def _load() -> tuple[LabelSpec, ...]:
    text = resources.files(__package__).joinpath("labels.csv").read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(
            LabelSpec(
                name=row["name"],
                label=row["label"],
                format=row["format"],
                layout=row["layout"],
                sig_bits=int(row["sig_bits"] or 0),
                range=float(row["range"] or 0),
                signed=row["signed"] == "1",
                units=row["units"],
                display=row["display"],
                min_interval_ms=float(row["min_interval_ms"]),
                max_interval_ms=float(row["max_interval_ms"]),
                description=row["description"],
            )
        )
    return tuple(rows)


LABELS: tuple[LabelSpec, ...] = _load()
BY_LABEL: dict[str, LabelSpec] = {spec.label: spec for spec in LABELS}
#: Name -> spec. Names shared by several labels (flight_id: 233-236) map to the first of them.
BY_NAME: dict[str, LabelSpec] = {}
for _spec in LABELS:
    BY_NAME.setdefault(_spec.name, _spec)
#: Label number (0..255, as read after undoing the bit reversal) -> spec or None.
BY_CODE: tuple[LabelSpec | None, ...] = tuple(BY_LABEL.get(f"{code:03o}") for code in range(256))


def spec_for(name_or_label: str | int) -> LabelSpec:
    """Look a label up by name ("altitude"), octal string ("203") or number (0o203)."""
    if isinstance(name_or_label, int):
        found = BY_CODE[name_or_label] if 0 <= name_or_label < 256 else None
    else:
        found = BY_LABEL.get(name_or_label) or BY_NAME.get(name_or_label)
    if found is None:
        raise KeyError(f"unknown ARINC 429 label {name_or_label!r}")
    return found
