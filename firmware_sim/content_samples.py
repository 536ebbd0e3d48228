"""Sample content SOURCE directories (catalog.json + files) as an airline's content team would prepare them:
a newspaper edition per day (PDF + page image + thumbnail, so a new day's update is visible), a magazine, a
photo magazine of page images only (no PDF), a short HLS video (master + media playlist + MPEG-TS segments),
city guides for the destination, and offers.
Pack one with `python -m appliance content pack SRC DEST`.

Everything is synthesised with the standard library (a hand-written PDF, PNGs via zlib, MPEG-TS packets with
PAT/PMT/PES framing and continuity counters): valid containers, placeholder pictures.

    python -m firmware_sim.content_samples DEST [--day 2026-11-23] [--destination LEMD] [--segments 3]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import zlib
from datetime import date
from pathlib import Path
from typing import Any

LANGS = ("en", "es", "ca", "fr", "de")
CITY_NAMES = {"LEMD": "Madrid", "LEBL": "Barcelona", "LFPG": "Paris", "EDDF": "Frankfurt", "EGLL": "London"}
TS_PACKET = 188
#: the page colours (top, bottom) of the image-only photo magazine
PHOTO_PAGES = (((250, 200, 120), (60, 90, 160)), ((120, 180, 230), (240, 240, 250)),
               ((40, 120, 90), (200, 220, 160)), ((30, 30, 60), (230, 120, 80)))


# --- pictures -------------------------------------------------------------------------------------------

def png(width: int, height: int, top: tuple[int, int, int], bottom: tuple[int, int, int], band: int = 0) -> bytes:
    """A vertical gradient PNG, with a dark masthead band of `band` rows (newspaper look)."""
    rows = []
    for y in range(height):
        if y < band:
            colour = (20, 24, 32)
        else:
            f = y / max(1, height - 1)
            colour = tuple(round(a + (b - a) * f) for a, b in zip(top, bottom, strict=True))  # type: ignore[assignment]
        rows.append(b"\x00" + bytes(colour) * width)
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def pdf(title: str, lines: list[str]) -> bytes:
    """A one-page PDF with a title and lines of text (Helvetica), with a correct xref table."""

    def esc(s: str) -> str:
        s = s.encode("latin-1", "replace").decode("latin-1")
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = [f"BT /F1 24 Tf 56 780 Td ({esc(title)}) Tj ET"]
    y = 740
    for line in lines:
        text.append(f"BT /F1 12 Tf 56 {y} Td ({esc(line)}) Tj ET")
        y -= 18
    stream = "\n".join(text).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# --- MPEG-TS --------------------------------------------------------------------------------------------

def _crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _section_packet(pid: int, table: bytes) -> bytes:
    section = table + struct.pack(">I", _crc32_mpeg(table))
    payload = b"\x00" + section  # pointer field
    header = struct.pack(">BHB", 0x47, 0x4000 | pid, 0x10)
    return header + payload + b"\xff" * (TS_PACKET - 4 - len(payload))


def ts_segment(index: int, seconds: float, bitrate: int = 200_000) -> bytes:
    """An MPEG-TS segment: PAT, PMT (one H.264 stream on PID 0x100) and PES packets (timestamps per segment)."""
    pat = bytes([0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00])
    pmt = bytes([0x02, 0xB0, 0x12, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00,
                 0x1B, 0xE1, 0x00, 0xF0, 0x00])
    out = bytearray(_section_packet(0, pat) + _section_packet(0x1000, pmt))
    pts = int((index * seconds + 1) * 90000)
    pes_header = b"\x00\x00\x01\xe0\x00\x00\x80\x80\x05" + bytes([
        0x21 | ((pts >> 29) & 0x0E), (pts >> 22) & 0xFF, 0x01 | ((pts >> 14) & 0xFE), (pts >> 7) & 0xFF,
        0x01 | ((pts << 1) & 0xFE)])
    # an access unit delimiter then filler NAL units: a decoder accepts it, shows nothing
    body = pes_header + b"\x00\x00\x00\x01\x09\xf0" + (b"\x00\x00\x00\x01\x0c" + b"\xff" * 160) * 4
    packets = max(3, int(bitrate * seconds / 8 / TS_PACKET))
    counter = 0
    start = True
    while len(out) < packets * TS_PACKET:
        chunk, body = body[:184], body[184:]
        if not body:
            body = b"\x00\x00\x00\x01\x0c" + b"\xff" * 179
        header = struct.pack(">BHB", 0x47, (0x4000 if start else 0) | 0x100, 0x10 | counter)
        out += header + chunk + b"\xff" * (184 - len(chunk))
        counter = (counter + 1) & 0x0F
        start = False
    return bytes(out)


def hls(directory: Path, segments: int, seconds: float = 4.0, bitrate: int = 200_000) -> str:
    """Write master.m3u8, a media playlist and its segments; returns the master's path relative to the root."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=200000,RESOLUTION=320x180,CODECS="avc1.42e00a"\n'
        "low/index.m3u8\n"
    )
    media = directory / "low"
    media.mkdir(exist_ok=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{int(seconds + 0.999)}",
             "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
    for i in range(segments):
        (media / f"seg{i:03d}.ts").write_bytes(ts_segment(i, seconds, bitrate))
        lines += [f"#EXTINF:{seconds:.3f},", f"seg{i:03d}.ts"]
    lines.append("#EXT-X-ENDLIST")
    (media / "index.m3u8").write_text("\n".join(lines) + "\n")
    return f"{directory.name}/master.m3u8"


# --- the source directory -------------------------------------------------------------------------------

def _per_lang(template: dict[str, str], **values: str) -> dict[str, str]:
    return {lang: text.format(**values) for lang, text in template.items()}


def generate(dest: Path, day: date, destination: str = "LEMD", segments: int = 3, bitrate: int = 200_000) -> Path:
    """Write a complete source directory for `day` into `dest` (created). Returns `dest`."""
    city = CITY_NAMES.get(destination, destination)
    dest.mkdir(parents=True, exist_ok=True)
    for sub in ("readings", "thumbs", "video", "guides"):
        (dest / sub).mkdir(exist_ok=True)
    stamp = day.isoformat()
    items: list[dict[str, Any]] = []

    news = f"readings/daily-{stamp}.pdf"
    (dest / news).write_bytes(pdf(f"The Daily Flyer - {stamp}", [
        f"Edition of {stamp}.", "Weather at destination: mild.", f"Today in {city}: markets, museums, music."]))
    (dest / f"readings/daily-{stamp}-p1.png").write_bytes(png(300, 420, (245, 245, 240), (220, 220, 214), 60))
    (dest / f"thumbs/daily-{stamp}.png").write_bytes(png(160, 90, (240, 236, 228), (205, 200, 190), 18))
    items.append({
        "id": f"news-{stamp}", "kind": "reading", "category": "newspaper", "languages": ["en"], "date": stamp,
        "title": _per_lang({"en": "The Daily Flyer, {d}", "es": "The Daily Flyer, {d}", "ca": "The Daily Flyer, {d}",
                            "fr": "The Daily Flyer, {d}", "de": "The Daily Flyer, {d}"}, d=stamp),
        "description": {"en": "Today's newspaper.", "es": "El periódico de hoy.", "ca": "El diari d'avui.",
                        "fr": "Le journal du jour.", "de": "Die Zeitung von heute."},
        "files": {"pdf": news, "pages": [f"readings/daily-{stamp}-p1.png"]},
        "thumbnail": f"thumbs/daily-{stamp}.png",
    })
    (dest / "readings/skyways.pdf").write_bytes(pdf("Skyways magazine", ["Travel, food and design.",
                                                                          f"Month of {day:%B %Y}."]))
    (dest / "thumbs/skyways.png").write_bytes(png(160, 90, (19, 64, 116), (141, 169, 196)))
    items.append({
        "id": "skyways", "kind": "reading", "category": "magazine", "languages": ["en", "es"],
        "title": {"en": "Skyways magazine", "es": "Revista Skyways"},
        "files": {"pdf": "readings/skyways.pdf"}, "thumbnail": "thumbs/skyways.png",
    })
    pages = []
    for n, (top, bottom) in enumerate(PHOTO_PAGES, start=1):
        pages.append(f"readings/window-seat-p{n}.png")
        (dest / pages[-1]).write_bytes(png(300, 420, top, bottom, 24))
    (dest / "thumbs/window-seat.png").write_bytes(png(160, 90, *PHOTO_PAGES[0]))
    items.append({  # pictures only, no PDF: the app turns its pages itself
        "id": "window-seat", "kind": "reading", "category": "magazine", "languages": ["en", "es"],
        "title": {"en": "Window seat: a photo magazine", "es": "Ventanilla: una revista de fotos"},
        "files": {"pages": pages}, "thumbnail": "thumbs/window-seat.png",
    })
    master = hls(dest / "video" / "coast", segments, bitrate=bitrate)
    (dest / "thumbs/coast.png").write_bytes(png(160, 90, (30, 110, 160), (230, 200, 140)))
    items.append({
        "id": "coast", "kind": "video", "category": "documentary", "languages": ["en", "es", "fr", "de", "ca"],
        "title": {"en": "Along the coast", "es": "A lo largo de la costa", "ca": "Al llarg de la costa",
                  "fr": "Le long de la côte", "de": "Entlang der Küste"},
        "description": {"en": "A short film.", "es": "Un cortometraje.", "fr": "Un court métrage."},
        "files": {"hls": f"video/{master}"}, "thumbnail": "thumbs/coast.png", "duration_s": int(segments * 4),
    })
    guide = f"guides/{city.lower()}.html"
    (dest / guide).write_text(
        f"<!doctype html><html lang=en><meta charset=utf-8><title>{city}</title>"
        f"<h1>{city} in a day</h1><p>Morning market, a museum, dinner late.</p></html>", encoding="utf-8")
    (dest / f"thumbs/{city.lower()}.png").write_bytes(png(160, 90, (200, 120, 60), (250, 220, 160)))
    items.append({
        "id": f"guide-{city.lower()}", "kind": "guide", "category": "city", "languages": ["en"],
        "destination": destination,
        "title": _per_lang({"en": "{c} in a day", "es": "{c} en un día", "ca": "{c} en un dia",
                            "fr": "{c} en un jour", "de": "{c} an einem Tag"}, c=city),
        "files": {"html": guide}, "thumbnail": f"thumbs/{city.lower()}.png",
    })
    (dest / "thumbs/hotel.png").write_bytes(png(160, 90, (90, 60, 120), (230, 190, 210)))
    items.append({
        "id": f"hotel-{city.lower()}", "kind": "offer", "category": "hotel", "languages": ["en", "es"],
        "destination": destination, "price": "EUR 89",
        "title": _per_lang({"en": "Hotel in {c}: 20% off", "es": "Hotel en {c}: 20% de descuento",
                            "ca": "Hotel a {c}: 20% de descompte", "fr": "Hôtel à {c} : -20 %",
                            "de": "Hotel in {c}: 20 % Rabatt"}, c=city),
        "thumbnail": "thumbs/hotel.png",
    })
    items.append({
        "id": "lounge-pass", "kind": "offer", "category": "lounge", "languages": ["en"], "price": "EUR 25",
        "title": {"en": "Lounge pass for your return", "es": "Pase de sala VIP para la vuelta"},
    })
    (dest / "catalog.json").write_text(json.dumps({"version": 1, "items": items}, indent=1, ensure_ascii=False),
                                       encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_sim.content_samples", description=__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--day", type=date.fromisoformat, default=date.today())
    parser.add_argument("--destination", default="LEMD")
    parser.add_argument("--segments", type=int, default=3)
    args = parser.parse_args(argv)
    generate(args.dest, args.day, args.destination, args.segments)
    print(json.dumps({"source": str(args.dest)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
