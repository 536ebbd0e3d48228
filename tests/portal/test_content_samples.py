"""firmware_sim.content_samples: valid containers, a catalog the portal accepts, a new paper each day."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

from appliance.portal.catalog import parse_catalog, resolve_inside
from firmware_sim.content_samples import ffmpeg_exe, generate, hls, pdf, png


def test_catalog_is_valid_and_every_file_exists(tmp_path: Path) -> None:
    src = generate(tmp_path / "src", date(2026, 11, 23))
    catalog = parse_catalog(json.loads((src / "catalog.json").read_text()))
    assert catalog.invalid == 0
    assert {i["kind"] for i in catalog.items} == {"video", "reading", "guide", "offer"}
    for item in catalog.items:
        for value in item["files"].values():
            for rel in value if isinstance(value, list) else [value]:
                assert resolve_inside(src, rel) is not None, rel
        if "thumbnail" in item:
            assert resolve_inside(src, item["thumbnail"]) is not None


def test_a_new_day_brings_a_new_newspaper(tmp_path: Path) -> None:
    ids = []
    for day in (date(2026, 11, 23), date(2026, 11, 24)):
        src = generate(tmp_path / day.isoformat(), day)
        ids.append({i["id"] for i in json.loads((src / "catalog.json").read_text())["items"]})
    assert "news-2026-11-23" in ids[0] - ids[1] and "news-2026-11-24" in ids[1] - ids[0]


def test_pdf_xref_offsets_point_at_the_objects() -> None:
    data = pdf("Title (with parens)", ["line one"])
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    xref = int(re.search(rb"startxref\n(\d+)", data).group(1))  # type: ignore[union-attr]
    assert data[xref:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", data)]
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(f"{number} 0 obj".encode())


def test_png_chunks_have_good_crcs() -> None:
    data = png(16, 9, (0, 0, 0), (255, 255, 255), band=2)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_the_film_is_real_h264_aac_hls(tmp_path: Path) -> None:
    """Made by ffmpeg, read back by ffmpeg: H.264 and AAC in 188-byte MPEG-TS packets, a VOD playlist of them."""
    master = hls(tmp_path / "coast", segments=2)
    assert master == "coast/master.m3u8"
    assert 'CODECS="avc1.42e01e,mp4a.40.2"' in (tmp_path / master).read_text()
    playlist = (tmp_path / "coast/low/index.m3u8").read_text()
    assert "#EXT-X-ENDLIST" in playlist and playlist.count("#EXTINF:4.0") == 2
    segment = (tmp_path / "coast/low/seg001.ts").read_bytes()
    assert len(segment) % 188 == 0 and all(segment[i] == 0x47 for i in range(0, len(segment), 188))
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "coast/low/index.m3u8")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert re.search(r"Video: h264 \(Constrained Baseline\).*320x180", probe.stderr), probe.stderr
    assert re.search(r"Audio: aac \(LC\)", probe.stderr), probe.stderr
    assert "Duration: 00:00:08" in probe.stderr
