"""Sample content sources the simulated ground station packs into bundles: a small newspaper edition per day
(what a passenger expects to be today's), as the airline's content desk would hand it over."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

HEADLINES = (
    "Markets steady ahead of the holiday season",
    "New rail link opens between the two capitals",
    "Local team wins the cup after extra time",
    "Scientists map the deepest part of the ocean",
    "City council approves the new cycling plan",
)

OFFERS = (
    ("hotel-madrid", "Hotel near the Prado, one night", "EUR 120"),
    ("transfer-lemd", "Airport transfer to the city centre", "EUR 35"),
    ("museum-pass", "Museum pass, three days", "EUR 60"),
)


def write_newspaper(src: Path, edition: str, now: datetime | None = None) -> Path:
    """A newspaper source directory for `edition` (e.g. "2026-11-23" or "2026-11-23-evening")."""
    now = now or datetime.now(UTC)
    src.mkdir(parents=True, exist_ok=True)
    articles = [
        {"id": f"{edition}-{n}", "title": title, "body": f"{title}. " * 40, "edition": edition}
        for n, title in enumerate(HEADLINES)
    ]
    (src / "newspapers").mkdir(exist_ok=True)
    (src / "newspapers" / f"{edition}.json").write_text(json.dumps({"edition": edition, "articles": articles}))
    html = "".join(f"<article><h2>{a['title']}</h2><p>{a['body']}</p></article>" for a in articles)
    (src / "newspapers" / f"{edition}.html").write_text(f"<!doctype html><title>{edition}</title>{html}")
    # the portal's catalog schema (appliance/portal/catalog.py): the edition as a reading, plus offers to order
    catalog = {
        "version": 1,
        "generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "items": [
            {
                "id": f"news-{edition}".lower(),
                "kind": "guide",
                "category": "newspaper",
                "languages": ["en"],
                "title": {"en": f"The Daily, {edition}"},
                "files": {"html": f"newspapers/{edition}.html"},
            },
            *(
                {
                    "id": f"offer-{name}",
                    "kind": "offer",
                    "category": "offer",
                    "languages": ["en"],
                    "title": {"en": title},
                    "price": price,
                }
                for name, title, price in OFFERS
            ),
        ],
    }
    (src / "catalog.json").write_text(json.dumps(catalog, indent=1))
    return src
