"""Storage refuses state written in a format this release cannot read, whole and untouched (docs/update.md).

A release rolled back after a newer one wrote its own formats, or started on a state directory from the future,
must not "recover" that state as if it were corruption: quarantining a segment it cannot parse would lose every
acknowledged order in it. It refuses to open (health fails, so a release on trial is rolled back) and changes
nothing on disk, so the release that can read it finds it as it was.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import crc32c
import pytest

from appliance.component import Status
from appliance.fs import formats
from appliance.ports import StorageRefused
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.storage.framing import SEGMENT_HEADER
from appliance.storage.recovery import SNAPSHOT_NAME, decode_snapshot
from appliance.timebase import ManualClock


async def _state_with_orders(directory: Path, checkpoint: bool) -> list[str]:
    config = StorageConfig(dir=str(directory), segment_bytes=8 * 1024)
    storage = StorageComponent(config, ManualClock())
    await storage.start()
    ids = [(await storage.outbox.append("booking", {"i": i, "pad": "x" * 200})).id for i in range(40)]
    if checkpoint:
        await storage.stop()  # a clean stop writes the snapshot
    else:
        assert storage.store is not None
        storage.store.close()  # no snapshot: the records are only in the segments
    return ids


def _tree(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


async def _refused(directory: Path, expected: str) -> None:
    before = _tree(directory)
    storage = StorageComponent(StorageConfig(dir=str(directory)), ManualClock())
    await storage.start()
    check = storage.health()
    assert check.status == Status.FAIL and expected in check.reason, check.reason
    with pytest.raises(StorageRefused):
        await storage.outbox.append("booking", {"late": 1})
    await storage.stop()
    assert _tree(directory) == before  # nothing written, repaired or quarantined
    assert not (directory / "journal" / "corrupt").exists()


async def _readable_again(directory: Path, ids: list[str]) -> None:
    storage = StorageComponent(StorageConfig(dir=str(directory)), ManualClock())
    await storage.start()
    assert storage.health().status != Status.FAIL, storage.health().reason
    assert set(ids) <= {item.id for item in storage.outbox.pending()}
    await storage.stop()


async def test_a_marker_naming_a_newer_journal_format_is_refused_untouched(tmp_path: Path) -> None:
    ids = await _state_with_orders(tmp_path, checkpoint=False)
    formats.write_marker(tmp_path, {"journal": 2, "snapshot": 1, "state_files": 1})
    await _refused(tmp_path, "cannot read journal format 2")
    formats.write_marker(tmp_path, {"journal": 1, "snapshot": 1, "state_files": 1})  # the release that reads it
    await _readable_again(tmp_path, ids)


async def test_a_marker_that_is_not_json_is_refused(tmp_path: Path) -> None:
    await _state_with_orders(tmp_path, checkpoint=True)
    (tmp_path / formats.MARKER).write_text("{not json")
    await _refused(tmp_path, "formats.json: not JSON")


async def test_a_whole_segment_of_another_format_is_refused_not_quarantined(tmp_path: Path) -> None:
    ids = await _state_with_orders(tmp_path, checkpoint=False)
    segments = sorted((tmp_path / "journal").glob("seg-*.log"))
    assert len(segments) > 1
    first = segments[0]
    data = bytearray(first.read_bytes())
    _, index, first_seq, _ = SEGMENT_HEADER.unpack_from(data, 0)
    head = struct.pack("<8sQQ", b"APJOURN2", index, first_seq)
    data[:28] = head + struct.pack("<I", crc32c.crc32c(head))  # a whole header, its CRC good: another format
    original = first.read_bytes()
    first.write_bytes(bytes(data))
    await _refused(tmp_path, "journal segment of format b'2'")
    first.write_bytes(original)
    await _readable_again(tmp_path, ids)


async def test_a_whole_snapshot_of_another_format_is_refused_not_quarantined(tmp_path: Path) -> None:
    await _state_with_orders(tmp_path, checkpoint=True)
    path = tmp_path / "journal" / SNAPSHOT_NAME
    decoded = decode_snapshot(path.read_bytes())
    assert decoded is not None
    seq, payload = decoded
    head = struct.pack("<8sQQ", b"APSNAP02", seq, len(payload))
    path.write_bytes(head + struct.pack("<I", crc32c.crc32c(payload, crc32c.crc32c(head))) + payload)
    await _refused(tmp_path, "snapshot of format b'02'")


async def test_the_formats_this_release_writes_open_as_before(tmp_path: Path) -> None:
    ids = await _state_with_orders(tmp_path, checkpoint=True)
    formats.write_marker(tmp_path, {name: versions[-1] for name, versions in formats.WRITES.items()})
    await _readable_again(tmp_path, ids)
    assert json.loads((tmp_path / formats.MARKER).read_text()) == {"journal": 1, "snapshot": 1, "state_files": 1}
