"""`appliance decode` as a subprocess: exact fields and names of the contract, captures, --stats, exit 2."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

from hal.arinc429 import (
    MAGIC,
    CaptureError,
    CaptureWriter,
    encode,
    encode_flight_id,
    encode_flight_information,
    encode_frame,
    heartbeat_frame,
    read_records,
)
from tests.conftest import python_module, subprocess_env

WORD_KEYS = ["channel", "label", "sdi", "name", "value", "units", "status"]


def _stream() -> bytes:
    corrupt = bytearray(encode_frame(1, encode("mach_speed", 0.8)))
    corrupt[10] ^= 0x01
    parts = [
        b"\x00\xff\x5a",  # line noise
        encode_frame(0, encode("altitude", 35000)),
        encode_frame(1, encode("heading", -90.0, sdi=2)),
        encode_frame(0, encode("outside_temperature", -56.5, status="failure_warning")),
        bytes(corrupt),
        encode_frame(1, encode("altitude", 100) ^ 1 << 20),  # bad parity
        heartbeat_frame(1),
        *(encode_frame(0, w) for w in encode_flight_information("IB3456", "LEBL", "LEMD")),
        *(encode_frame(0, w) for w in encode_flight_id("IB3456")),
        encode_frame(0, encode("date", "2026-11-23")),
        encode_frame(0, encode("utc_time", "12:34:56")),
        encode_frame(0, encode("flight_number", 3456)),
    ]
    return b"".join(parts)


def _word(*fields: Any) -> dict[str, Any]:
    """channel, label, name, value, units, status (sdi 0)."""
    channel, label, *rest = fields
    return dict(zip(WORD_KEYS, [channel, label, 0, *rest], strict=True))


EXPECTED: list[dict[str, Any]] = [
    {"channel": 0, "label": "203", "sdi": 0, "name": "altitude", "value": 35000.0, "units": "ft", "status": "normal"},
    {"channel": 1, "label": "314", "sdi": 2, "name": "heading", "value": 270.0, "units": "deg", "status": "normal"},
    _word(0, "213", "outside_temperature", -56.5, "degC", "failure_warning"),
    {"channel": 1, "label": "203", "error": "parity"},
    {"channel": 0, "label": "233", "sdi": 0, "name": "flight_id", "value": "IB", "units": "", "status": "normal"},
    {"channel": 0, "label": "234", "sdi": 0, "name": "flight_id", "value": "34", "units": "", "status": "normal"},
    {"channel": 0, "label": "235", "sdi": 0, "name": "flight_id", "value": "56", "units": "", "status": "normal"},
    {"channel": 0, "label": "236", "sdi": 0, "name": "flight_id", "value": "", "units": "", "status": "normal"},
    _word(0, "260", "date", "2026-11-23", "YYYY-MM-DD", "normal"),
    _word(0, "150", "utc_time", "12:34:56", "HH:MM:SS", "normal"),
    {"channel": 0, "label": "261", "sdi": 0, "name": "flight_number", "value": 3456, "units": "", "status": "normal"},
    {
        "channel": 0, "label": "360", "sdi": 0, "name": "flight_information",
        "value": {"flight_number": "IB3456", "origin": "LEBL", "destination": "LEMD"}, "units": "", "status": "normal",
    },
]  # fmt: skip


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        python_module("appliance", "decode", *args), input=stdin, capture_output=True, env=subprocess_env(), timeout=60
    )


def _lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.decode().splitlines()]


def test_decode_raw_file_prints_the_contract_fields(tmp_path: Path) -> None:
    path = tmp_path / "raw.bin"
    path.write_bytes(_stream())
    result = _run(str(path))
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert lines == EXPECTED
    for line in lines:
        keys = list(line)
        assert keys == (["channel", "label", "error"] if "error" in line else WORD_KEYS)
    first = result.stdout.decode().splitlines()[0]
    expected_first = '{"channel": 0, "label": "203", "sdi": 0, "name": "altitude", '
    assert first == expected_first + '"value": 35000.0, "units": "ft", "status": "normal"}'


def test_decode_stdin_and_capture_agree(tmp_path: Path) -> None:
    data = _stream()
    capture = io.BytesIO()
    writer = CaptureWriter(capture)
    for i in range(0, len(data), 17):  # records split frames anywhere
        writer.write(i / 1000, data[i : i + 17])
    path = tmp_path / "flight.a429"
    path.write_bytes(capture.getvalue())
    from_capture = _run(str(path))
    from_stdin = _run("-", stdin=data)
    assert from_capture.returncode == from_stdin.returncode == 0
    assert _lines(from_capture.stdout) == _lines(from_stdin.stdout) == EXPECTED


def test_stats(tmp_path: Path) -> None:
    path = tmp_path / "raw.bin"
    path.write_bytes(_stream())
    result = _run("--stats", str(path))
    assert result.returncode == 0
    (stats,) = _lines(result.stdout)
    assert list(stats) == ["frames", "words", "parity_errors", "line_errors", "crc_errors", "resyncs", "seconds"]
    assert stats["frames"] == 19  # 18 words + 1 heartbeat
    assert stats["words"] == 18
    assert (stats["parity_errors"], stats["crc_errors"], stats["resyncs"]) == (1, 1, 2)
    assert 0 <= stats["seconds"] < 30


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.bin", tmp_path):
        result = _run(str(path))
        assert result.returncode == 2
        assert result.stdout == b""
        assert len(result.stderr.decode().strip().splitlines()) == 1
        assert str(path) in result.stderr.decode()


def test_empty_input() -> None:
    result = _run("--stats", stdin=b"")
    assert result.returncode == 0
    assert _lines(result.stdout)[0]["frames"] == 0


def test_capture_round_trip_and_truncated_tail() -> None:
    buffer = io.BytesIO()
    writer = CaptureWriter(buffer)
    writer.write(0.0, b"abc")
    writer.write(1.25, b"")
    writer.write(2.5, b"\x5a\xa5tail")
    raw = buffer.getvalue()
    assert raw.startswith(MAGIC)
    records = list(read_records(io.BytesIO(raw)))
    assert [(r.seconds, r.data) for r in records] == [(0.0, b"abc"), (1.25, b""), (2.5, b"\x5a\xa5tail")]
    assert len(list(read_records(io.BytesIO(raw[:-2])))) == 2  # the recorder lost power mid-record
    try:
        list(read_records(io.BytesIO(b"not a capture")))
    except CaptureError:
        pass
    else:
        raise AssertionError("a file without the magic was read as a capture")
