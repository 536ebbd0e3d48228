"""Sample content SOURCE directories (catalog.json + files) as an airline's content team would prepare them:
a newspaper edition per day (PDF + page image + thumbnail, so a new day's update is visible), a magazine, a
photo magazine of page images only (no PDF), a short HLS video (master + media playlist + MPEG-TS segments),
city guides for the destination, and offers. The newspaper, the photo magazine and the guide carry
`offline_hours` (a passenger may keep them on their device, "Take it with you"); the magazine does not.
Pack one with `python -m appliance content pack SRC DEST`.

Pictures and documents are synthesised with the standard library (a hand-written PDF, PNGs via zlib); the film
is a real, small, playable HLS stream (H.264/AAC in MPEG-TS, a test card and a tone) made by ffmpeg, from the
imageio-ffmpeg package, when the samples are built.

    python -m firmware_sim.content_samples DEST [--day 2026-11-23] [--destination LEMD] [--segments 3]
"""

from __future__ import annotations

import argparse
import functools
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from datetime import date
from pathlib import Path
from typing import Any

LANGS = ("en", "es", "ca", "fr", "de")
CITY_NAMES = {"LEMD": "Madrid", "LEBL": "Barcelona", "LFPG": "Paris", "EDDF": "Frankfurt", "EGLL": "London"}
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


# --- HLS video -------------------------------------------------------------------------------------------

SAMPLE_SIZE, SAMPLE_FPS = "320x180", 25
SAMPLE_CODECS = "avc1.42e01e,mp4a.40.2"  # H.264 Constrained Baseline 3.0 and AAC-LC: what every phone plays
AUDIO_BITRATE = 64_000


def ffmpeg_exe() -> str:
    """The ffmpeg that makes the sample films: imageio-ffmpeg's (a PyPI package that ships a static ffmpeg with
    libx264; $IMAGEIO_FFMPEG_EXE points it at another). Raises RuntimeError when there is none."""
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]

        exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as error:
        raise RuntimeError(f"no ffmpeg to make the sample video (pip install imageio-ffmpeg): {error}") from error
    return exe


@functools.lru_cache(maxsize=8)
def _encoded_hls(segments: int, seconds: float, bitrate: int) -> tuple[tuple[str, bytes], ...]:
    """A test card with a tone, `segments` x `seconds` long, encoded to H.264/AAC in MPEG-TS segments with a VOD
    media playlist by ffmpeg's HLS muxer: ((file name, bytes), ...). Deterministic (one thread, bitexact);
    encoded once per process and parameters (~0.3 s). Raises RuntimeError if ffmpeg fails."""
    total = segments * seconds
    gop = round(SAMPLE_FPS * seconds)  # a key frame at every segment start: each segment plays on its own
    video_bitrate = max(50_000, bitrate - AUDIO_BITRATE)
    with tempfile.TemporaryDirectory(prefix="samples-hls-") as work:
        argv = [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={SAMPLE_SIZE}:rate={SAMPLE_FPS}:duration={total}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={total}",
            "-map", "0:v", "-map", "1:a", "-threads", "1",
            "-c:v", "libx264", "-profile:v", "baseline", "-level", "3.0", "-pix_fmt", "yuv420p",
            "-preset", "veryfast", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-b:v", str(video_bitrate), "-maxrate", str(video_bitrate), "-bufsize", str(2 * video_bitrate),
            "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2",
            "-flags", "+bitexact", "-fflags", "+bitexact", "-map_metadata", "-1",
            "-f", "hls", "-hls_time", f"{seconds:g}", "-hls_playlist_type", "vod", "-hls_list_size", "0",
            "-hls_segment_filename", str(Path(work) / "seg%03d.ts"), str(Path(work) / "index.m3u8"),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg could not make the sample video: {done.stderr.strip()[-500:]}")
        return tuple((f.name, f.read_bytes()) for f in sorted(Path(work).iterdir()))


def hls(directory: Path, segments: int, seconds: float = 4.0, bitrate: int = 200_000) -> str:
    """Write master.m3u8 and, under low/, a playable H.264/AAC media playlist and its segments (made by ffmpeg);
    returns the master's path relative to `directory`'s parent."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={bitrate + bitrate // 10},RESOLUTION={SAMPLE_SIZE},CODECS="{SAMPLE_CODECS}"\n'
        "low/index.m3u8\n"
    )
    media = directory / "low"
    media.mkdir(exist_ok=True)
    for name, data in _encoded_hls(segments, seconds, bitrate):
        (media / name).write_bytes(data)
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
        "offline_hours": 24,  # the newspaper's licence: a day on the passenger's device
    })
    (dest / "readings/skyways.pdf").write_bytes(pdf("Skyways magazine", ["Travel, food and design.",
                                                                          f"Month of {day:%B %Y}."]))
    (dest / "thumbs/skyways.png").write_bytes(png(160, 90, (19, 64, 116), (141, 169, 196)))
    items.append({
        "id": "skyways", "kind": "reading", "category": "magazine", "languages": ["en", "es"],
        "title": {"en": "Skyways magazine", "es": "Revista Skyways"},
        "files": {"pdf": "readings/skyways.pdf"}, "thumbnail": "thumbs/skyways.png",
        # no offline_hours: this magazine's licence does not let passengers keep it (read on board only)
    })
    pages = []
    for n, (top, bottom) in enumerate(PHOTO_PAGES, start=1):
        pages.append(f"readings/window-seat-p{n}.png")
        (dest / pages[-1]).write_bytes(png(300, 420, top, bottom, 24))
    (dest / "thumbs/window-seat.png").write_bytes(png(160, 90, *PHOTO_PAGES[0]))
    items.append({  # pictures only, no PDF: the app turns its pages itself
        "id": "window-seat", "kind": "reading", "category": "magazine", "languages": ["en", "es"],
        "title": {"en": "Window seat: a photo magazine", "es": "Ventanilla: una revista de fotos"},
        "files": {"pages": pages}, "thumbnail": "thumbs/window-seat.png", "offline_hours": 72,
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
        "offline_hours": 168,  # a city guide is for the trip: a week
    })
    (dest / "thumbs/hotel.png").write_bytes(png(160, 90, (90, 60, 120), (230, 190, 210)))
    items.append({
        "id": f"hotel-{city.lower()}", "kind": "offer", "category": "hotel", "languages": ["en", "es"],
        "destination": destination, "price": {"amount_minor": 8900, "currency": "EUR", "per": "night"},
        "mode": "booked",
        "title": _per_lang({"en": "Hotel in {c}: 20% off", "es": "Hotel en {c}: 20% de descuento",
                            "ca": "Hotel a {c}: 20% de descompte", "fr": "Hôtel à {c} : -20 %",
                            "de": "Hotel in {c}: 20 % Rabatt"}, c=city),
        "thumbnail": "thumbs/hotel.png",
    })
    items.append({
        "id": "lounge-pass", "kind": "offer", "category": "lounge", "languages": ["en"],
        "price": {"amount_minor": 2500, "currency": "EUR", "per": "person"}, "mode": "bought",
        "title": {"en": "Lounge pass for your return", "es": "Pase de sala VIP para la vuelta"},
    })
    items.append({  # an old bundle's free-text price: shown as written, only requested (not paid on board)
        "id": "transfer", "kind": "offer", "category": "transfer", "languages": ["en", "es"], "price": "EUR 40",
        "mode": "requested", "destination": destination,
        "title": _per_lang({"en": "Airport transfer in {c}", "es": "Traslado al aeropuerto en {c}",
                            "ca": "Trasllat a l'aeroport a {c}", "fr": "Transfert aéroport à {c}",
                            "de": "Flughafentransfer in {c}"}, c=city),
    })
    items.append({
        "id": "duty-free-scarf", "kind": "offer", "category": "shop", "languages": ["en", "es", "fr", "de", "ca"],
        "price": {"amount_minor": 3900, "currency": "EUR", "per": "item"}, "mode": "bought",
        "title": {"en": "Silk scarf", "es": "Pañuelo de seda", "ca": "Mocador de seda", "fr": "Foulard en soie",
                  "de": "Seidenschal"},
    })
    # the card processor's public key (a test key: firmware_sim/ground/processor.py) and the hot-card list
    (dest / "payments").mkdir(exist_ok=True)
    private = json.loads((Path(__file__).parent / "ground/processor_test_key.json").read_text(encoding="utf-8"))
    public = {k: private[k] for k in ("kty", "n", "e", "kid")} | {"alg": "RSA-OAEP-256", "use": "enc"}
    (dest / "payments/processor.jwk.json").write_text(json.dumps(public), encoding="utf-8")
    (dest / "payments/hot-cards.json").write_text(json.dumps({"cards": [{"brand": "visa", "last4": "0341"}]}),
                                                  encoding="utf-8")
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
