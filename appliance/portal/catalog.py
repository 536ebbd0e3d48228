"""The catalog of the active content bundle, and serving its files safely.

`catalog.json` at the bundle root (schema below, also in docs of /api/v1/openapi.json):

    {"version": 1,
     "items": [{"id": "news-2026-11-23",              # [a-z0-9][a-z0-9._-]{0,63}, unique
                "kind": "video" | "reading" | "guide" | "offer",
                "category": "newspaper",             # free word: newspaper, magazine, film, city, ...
                "languages": ["en", "es"],
                "title": {"en": "...", "es": "..."}, # per language (at least one)
                "description": {"en": "..."},        # optional, per language
                "files": {"hls": "video/x/master.m3u8"} | {"pdf": "..."} | {"pages": ["p1.jpg", ...]}
                         | {"html": "guides/madrid.html"},
                "thumbnail": "thumbs/x.jpg",         # optional
                "destination": "LEMD",               # optional: guides and offers for an airport (ICAO)
                "duration_s": 95,                    # optional
                "price": {"amount_minor": 8900, "currency": "EUR", "per": "night"},  # optional (per: night,
                                                     # item, person); old bundles' text "EUR 25" still loads.
                                                     # The API gives `price` as text and `price_value`
                                                     # {currency, amount, amount_minor, exponent, per}
                "mode": "bought" | "booked" | "requested",  # optional: bought and booked take card payment
                                                     # (they need a structured price); default: offers with a
                                                     # price are booked, other offers requested
                "orders": ["email"],                 # optional: the order kinds it takes (booking, offer,
                                                     # email); default per kind, DEFAULT_ORDERS
                "offline_hours": 24                  # optional, readings and guides only: the licence lets a
                                                     # passenger keep it on their device this many hours after
                                                     # saving it (0 < h <= 8760); absent (old bundles): not savable.
                                                     # The API adds `savable` (true with offline_hours)
               }],
     "categories": {"newspaper": {"en": "Newspaper", "es": "Periódico"}}}  # optional: names per language

A category's name in the passenger's language (`category_name`): the bundle's own, else the app's string table
(`category_<word>` in static/i18n.json), else the word itself.

Files are paths relative to the bundle root. Items that break the schema are skipped and counted.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.licence import offline_hours_error
from appliance.portal.i18n import DEFAULT, strings
from appliance.portal.orders import ITEM_KINDS

log = logging.getLogger("appliance.portal.catalog")

KINDS = ("video", "reading", "guide", "offer")
ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LANG_RE = re.compile(r"[a-z]{2}")
#: What an item takes when its catalog entry says nothing: a film is watched on board (nothing to send), a reading
#: or a guide can be e-mailed, an offer requested (and booked when it has a price).
DEFAULT_ORDERS: dict[str, tuple[str, ...]] = {"video": (), "reading": ("email",), "guide": ("email",),
                                              "offer": ("offer",)}
PRICE_RE = re.compile(r"([A-Z]{3}) ?([0-9]{1,9}(?:\.[0-9]{1,3})?)")
PER = ("night", "item", "person")
#: bought (paid for on board), booked (a reservation paid on board), requested (ask for an offer: not paid)
MODES = ("bought", "booked", "requested")
#: ISO 4217 currencies whose minor unit is not the cent (the list's exponents 0 and 3; all others have 2)
MINOR_EXPONENTS = {c: 0 for c in ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                  "VND", "VUV", "XAF", "XOF", "XPF")} | {
    c: 3 for c in ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")}
FILE_KEYS = {"video": ("hls",), "reading": ("pdf", "pages"), "guide": ("html", "pdf", "pages"), "offer": ()}

#: What the content listener serves, by extension; anything else is 404.
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".txt": "text/plain",
}


@dataclass
class Catalog:
    items: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0
    masters: frozenset[str] = frozenset()  # relative paths of video master playlists
    categories: dict[str, dict[str, str]] = field(default_factory=dict)  # word -> {lang: name}

    def get(self, item_id: str) -> dict[str, Any] | None:
        for item in self.items:
            if item["id"] == item_id:
                return item
        return None


def safe_relative(path: str) -> str | None:
    """A clean relative path inside a bundle, or None (absolute, .., hidden parts, NUL, backslash)."""
    if not path or len(path) > 512 or "\x00" in path or "\\" in path or path.startswith("/"):
        return None
    parts = path.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    return path


def resolve_inside(root: Path, relative: str) -> Path | None:
    """The file `relative` under `root`, only if it is a regular file really inside it (symlinks resolved)."""
    clean = safe_relative(relative)
    if clean is None:
        return None
    try:
        candidate = (root / clean).resolve(strict=True)
        candidate.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return candidate if candidate.is_file() else None


class PathCache:
    """resolve_inside, remembered per bundle root (a bundle's files never change once installed; a file the
    content check quarantines makes FileResponse answer 404). Cleared when the active root changes."""

    def __init__(self, limit: int = 4096) -> None:
        self._root: Path | None = None
        self._paths: dict[str, Path | None] = {}
        self._limit = limit

    def resolve(self, root: Path, relative: str) -> Path | None:
        if root != self._root:
            self._root, self._paths = root, {}
        if relative in self._paths:
            return self._paths[relative]
        path = resolve_inside(root, relative)
        if len(self._paths) >= self._limit:
            self._paths.clear()
        self._paths[relative] = path
        return path


def _text_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict) or not value:
        return None
    out = {k: v for k, v in value.items() if isinstance(k, str) and LANG_RE.fullmatch(k) and isinstance(v, str)}
    return out if len(out) == len(value) else None


def _validate(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    item_id, kind = raw.get("id"), raw.get("kind")
    if not isinstance(item_id, str) or not ID_RE.fullmatch(item_id) or kind not in KINDS:
        return None
    category = raw.get("category")
    languages = raw.get("languages")
    title = _text_map(raw.get("title"))
    if not isinstance(category, str) or not category or title is None:
        return None
    if not isinstance(languages, list) or not languages or not all(
        isinstance(lang, str) and LANG_RE.fullmatch(lang) for lang in languages
    ):
        return None
    files = raw.get("files", {})
    if not isinstance(files, dict):
        return None
    clean_files: dict[str, Any] = {}
    for key, value in files.items():
        if key not in FILE_KEYS[kind]:
            return None
        paths = value if isinstance(value, list) else [value]
        if not paths or not all(isinstance(p, str) and safe_relative(p) for p in paths):
            return None
        clean_files[key] = value
    if kind == "video" and "hls" not in clean_files:
        return None
    item: dict[str, Any] = {
        "id": item_id,
        "kind": kind,
        "category": category,
        "languages": list(languages),
        "title": title,
        "description": _text_map(raw.get("description")) or {},
        "files": clean_files,
    }
    thumbnail = raw.get("thumbnail")
    if isinstance(thumbnail, str) and safe_relative(thumbnail):
        item["thumbnail"] = thumbnail
    destination = raw.get("destination")
    if isinstance(destination, str) and re.fullmatch(r"[A-Z0-9]{4}", destination):
        item["destination"] = destination
    for key in ("duration_s", "date"):
        if isinstance(raw.get(key), int | float | str) and not isinstance(raw.get(key), bool):
            item[key] = raw[key]
    if "price" in raw:
        price = parse_price(raw["price"])
        if price is None:
            return None
        item["price"], value = price
        if value is not None:
            item["price_value"] = value
    mode = raw.get("mode")
    if mode is None:
        mode = "booked" if kind == "offer" and "price_value" in item else "requested" if kind == "offer" else None
    elif mode not in MODES or ("price_value" not in item and mode != "requested"):
        return None  # bought or booked needs a structured price
    if mode is not None:
        item["mode"] = mode
    item["payable"] = mode in ("bought", "booked")
    if "offline_hours" in raw:
        hours = offline_hours(kind, raw["offline_hours"])
        if hours is None:
            return None
        item["offline_hours"] = hours
    item["savable"] = "offline_hours" in item
    orders = raw.get("orders")
    if orders is None:
        item["orders"] = list(DEFAULT_ORDERS[kind]) + (["booking"] if kind == "offer" and "price" in item else [])
    elif isinstance(orders, list) and all(o in ITEM_KINDS for o in orders) and len(set(orders)) == len(orders):
        item["orders"] = list(orders)
    else:
        return None
    return item


def offline_hours(kind: str, raw: Any) -> int | float | None:
    """A catalog item's `offline_hours` when it is valid for its kind (appliance/licence.py), else None."""
    return None if offline_hours_error(kind, raw) is not None else raw


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of an ISO 4217 currency (2 unless listed)."""
    return MINOR_EXPONENTS.get(currency, 2)


def parse_price(raw: Any) -> tuple[str, dict[str, Any] | None] | None:
    """A catalog price -> (its text, its structured value or None); None when it breaks the schema.

    Structured: {"amount_minor": 8900, "currency": "EUR", "per": "night" | "item" | "person"}. Old bundles' free
    text ("EUR 89", "from 89 euros") still loads: "CUR amount" is structured (per item), anything else stays
    text only (shown as written, not payable)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw), None  # an old bundle's bare number: shown as written
    if isinstance(raw, str):
        if not 0 < len(raw) <= 64:
            return None
        match = PRICE_RE.fullmatch(raw)
        if match is None:
            return raw, None
        currency, digits = match.group(1), match.group(2)
        whole, _, fraction = digits.partition(".")
        exponent = minor_exponent(currency)
        if len(fraction) > exponent:
            return raw, None
        amount_minor = int(whole) * 10 ** exponent + int((fraction or "0").ljust(exponent, "0") or "0")
        return raw, _value(amount_minor, currency, "item")
    if not isinstance(raw, dict) or set(raw) - {"amount_minor", "currency", "per"}:
        return None
    amount, currency, per = raw.get("amount_minor"), raw.get("currency"), raw.get("per", "item")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= 10**9:
        return None
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency) or per not in PER:
        return None
    value = _value(amount, currency, per)
    exponent = minor_exponent(currency)
    text = f"{currency} {amount / 10 ** exponent:.{exponent}f}" if exponent else f"{currency} {amount}"
    return text, value


def _value(amount_minor: int, currency: str, per: str) -> dict[str, Any]:
    exponent = minor_exponent(currency)
    return {"currency": currency, "amount": amount_minor / 10 ** exponent, "amount_minor": amount_minor,
            "exponent": exponent, "per": per}


def parse_catalog(document: Any) -> Catalog:
    catalog = Catalog()
    raw_items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(raw_items, list):
        catalog.invalid = 1
        return catalog
    seen: set[str] = set()
    for raw in raw_items:
        item = _validate(raw)
        if item is None or item["id"] in seen:
            catalog.invalid += 1
            continue
        seen.add(item["id"])
        catalog.items.append(item)
    catalog.masters = frozenset(i["files"]["hls"] for i in catalog.items if i["kind"] == "video")
    names = document.get("categories")
    if isinstance(names, dict):
        for word, texts in names.items():
            clean = _text_map(texts)
            if isinstance(word, str) and clean is not None:
                catalog.categories[word] = clean
    return catalog


def category_name(catalog: Catalog, word: str, lang: str) -> str:
    own = catalog.categories.get(word, {})
    if own.get(lang):
        return own[lang]
    table = strings()
    key = f"category_{word}"
    return table.get(lang, {}).get(key) or own.get("en") or table[DEFAULT].get(key) or word


class CatalogCache:
    """The parsed catalog of a bundle root, re-read when the active root or its catalog.json changes."""

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._catalog = Catalog()

    def load(self, root: Path | None) -> Catalog:
        if root is None:
            return Catalog()
        path = root / "catalog.json"
        try:
            key = (str(root), path.stat().st_mtime_ns)
        except OSError:
            return Catalog()
        if key != self._key:
            try:
                document = json.loads(path.read_bytes())
            except (OSError, ValueError):
                log.warning("catalog.json of the active bundle is unreadable")
                document = None
            self._catalog = parse_catalog(document)
            self._key = key
            if self._catalog.invalid:
                log.warning("catalog: %d invalid item(s) skipped", self._catalog.invalid)
        return self._catalog


def localise(item: dict[str, Any], lang: str, content_prefix: str = "/content/") -> dict[str, Any]:
    """The item for the app: title and description in `lang` (else English, else any), file URLs."""

    def pick(texts: dict[str, str]) -> str | None:
        return texts.get(lang) or texts.get("en") or next(iter(texts.values()), None)

    out = {k: v for k, v in item.items() if k not in ("title", "description", "files", "thumbnail")}
    out["title"] = pick(item["title"])
    out["description"] = pick(item["description"]) if item["description"] else None
    out["files"] = {
        key: [content_prefix + p for p in value] if isinstance(value, list) else content_prefix + value
        for key, value in item["files"].items()
    }
    out["thumbnail"] = content_prefix + item["thumbnail"] if "thumbnail" in item else None
    return out


def select(
    catalog: Catalog,
    lang: str,
    *,
    kind: str | None,
    profile: str,
    destination: str | None,
) -> list[dict[str, Any]]:
    """Items for the app: of one kind (or all), no videos on the ground, destination offers/guides first (on the ground
    all offers come before everything else)."""
    items = [
        i
        for i in catalog.items
        if (kind is None or i["kind"] == kind)
        and not (profile == "ground" and i["kind"] == "video")
    ]

    def rank(item: dict[str, Any]) -> tuple[int, int]:
        for_destination = 0 if destination and item.get("destination") == destination else 1
        offer_first = 0 if profile == "ground" and item["kind"] == "offer" else 1
        in_language = 0 if lang in item["languages"] else 1
        return (offer_first * 2 + for_destination, in_language)

    items.sort(key=rank)
    return [localise(i, lang) | {"category_name": category_name(catalog, i["category"], lang)} for i in items]
