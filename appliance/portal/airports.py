"""Airport facts (name, city, position, time zone) from the `airportsdata` package, by ICAO code.

The package's table is 28,000 airports (~30 MB as Python dicts); the portal needs two of them per flight, so
the CSV is scanned for the wanted code and only the found entries are kept.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import airportsdata

_CSV = Path(airportsdata.__file__).with_name("airports.csv")


@dataclass(frozen=True)
class Airport:
    icao: str
    iata: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    tz: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "icao": self.icao,
            "iata": self.iata or None,
            "name": self.name,
            "city": self.city,
            "country": self.country,
            "lat": self.lat,
            "lon": self.lon,
            "tz": self.tz,
        }


class Airports:
    def __init__(self, source: Path = _CSV) -> None:
        self._source = source
        self._cache: dict[str, Airport | None] = {}

    def get(self, icao: str | None) -> Airport | None:
        if not icao:
            return None
        code = icao.strip().upper()
        if code not in self._cache:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[code] = self._scan(code)
        return self._cache[code]

    def _scan(self, code: str) -> Airport | None:
        if len(code) != 4 or not code.isalnum():
            return None
        with self._source.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row["icao"] == code:
                    return Airport(
                        icao=code,
                        iata=row["iata"],
                        name=row["name"],
                        city=row["city"],
                        country=row["country"],
                        lat=float(row["lat"]),
                        lon=float(row["lon"]),
                        tz=row["tz"],
                    )
        return None
