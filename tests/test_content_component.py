"""The content component in the composition root: after storage (it uses the boot bookkeeping), it provides
CONTENT (the portal's view) and CONTENT_UPDATER (the ground link's sync)."""

from __future__ import annotations

from pathlib import Path

from appliance.content import COMPONENT as CONTENT
from appliance.content.component import ContentComponent
from appliance.core.graph import start_order
from appliance.core.testing import build_alone
from appliance.ports import BOOT
from appliance.storage import COMPONENT as STORAGE
from appliance.timebase import ManualClock
from tests.component_rig import Rig, rig_for
from tests.content_support import KIB, make_bundle, serve_ground


def context(tmp_path: Path, watch: bool = False) -> Rig:
    """Storage and content only: their own two sections, nothing about the avionics, modem or ground."""
    document = {"storage": {"dir": str(tmp_path / "state")}, "content": {"dir": str(tmp_path / "content"),
                                                                         "watch": watch}}
    return rig_for([STORAGE, CONTENT], document, clock=ManualClock())


async def test_content_alone_takes_only_its_section_and_a_fake_boot(tmp_path: Path) -> None:
    class Boot:
        boot_id, previous_shutdown_clean, unsafe_shutdowns, last_shutdown_reason = "b", True, 0, "clean"

    content = build_alone(CONTENT, {"dir": str(tmp_path / "content"), "watch": False}, services={BOOT: Boot()})
    assert isinstance(content, ContentComponent) and content.boot is not None
    await content.start()
    assert content.boot_report is not None and content.boot_report.hashed_files == 0
    await content.stop()


async def test_builders_provide_the_services_and_the_sync_reaches_the_portal_view(tmp_path: Path) -> None:
    order = [spec.name for spec in start_order([CONTENT, STORAGE])]
    assert order == ["storage", "content"]  # content uses storage's boot info: storage is started first
    make_bundle(tmp_path / "ground", "b1", {"catalog.json": b'{"items": []}', "newspapers/today.pdf": 100 * KIB})

    ctx = context(tmp_path)
    storage = ctx.build(STORAGE)
    content = ctx.build(CONTENT)
    assert ctx.content is content.store and ctx.content_updater is content
    await storage.start()
    await content.start()
    assert ctx.content.active_root() is None
    async with serve_ground(tmp_path / "ground") as ground:
        result = await ctx.content_updater.update(ground.url)
    assert result["status"] == "activated" and result["bundle_id"] == "b1"
    root = ctx.content.active_root()
    assert root is not None and (root / "catalog.json").read_bytes() == b'{"items": []}'
    assert ctx.metrics.registry.get_sample_value("appliance_content_syncs_total", {"status": "activated"}) == 1
    await content.check()
    await content.stop()
    await storage.stop()

    # a clean restart reads nothing; after a power cut (storage never stopped) the written bundle is re-hashed
    for clean in (True, False):
        ctx = context(tmp_path)
        storage = ctx.build(STORAGE)
        content = ctx.build(CONTENT)
        await storage.start()
        assert ctx.boot is not None and ctx.boot.previous_shutdown_clean is clean
        if not clean:
            content.store.mark_writing(root.name)
        await content.start()
        assert isinstance(content, ContentComponent) and content.boot_report is not None
        assert content.boot_report.hashed_files == (0 if clean else 2)
        assert content.health().status.value == "pass"
        await content.stop()
        if clean:
            continue  # storage left running: the next boot finds no clean-shutdown marker
        await storage.stop()


async def test_passengers_reading_files_do_not_wake_the_scan_but_a_changed_file_does(tmp_path: Path) -> None:
    """inotify reports opens and closes too: streaming a segment must not start a content check."""
    import asyncio

    make_bundle(tmp_path / "ground", "b1", {"catalog.json": b'{"items": []}', "video/seg001.ts": 64 * KIB})
    ctx = context(tmp_path, watch=True)
    storage = ctx.build(STORAGE)
    content = ctx.build(CONTENT)
    assert isinstance(content, ContentComponent)
    await storage.start()
    await content.start()
    try:
        async with serve_ground(tmp_path / "ground") as ground:
            await content.update(ground.url)
        await asyncio.sleep(1.0)  # the install's own events have been checked
        root = content.store.active_root()
        assert root is not None
        before = content.checks
        for _ in range(50):
            (root / "video" / "seg001.ts").read_bytes()
        await asyncio.sleep(1.0)
        assert content.checks == before

        (root / "video" / "seg001.ts").write_bytes(b"tampered")
        for _ in range(100):  # 5 s
            if content.checks > before:
                break
            await asyncio.sleep(0.05)
        assert content.checks > before
    finally:
        await content.stop()
        await storage.stop()
