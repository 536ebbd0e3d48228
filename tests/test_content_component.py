"""The content component in the composition root: after storage (it reads the boot bookkeeping), it fills
ctx.content (the portal's view) and ctx.content_updater (the ground link's sync)."""

from __future__ import annotations

from pathlib import Path

from appliance.appconfig import load_config
from appliance.content.component import ContentComponent
from appliance.content.component import build as build_content
from appliance.daemon import BUILDERS, Context
from appliance.storage.component import build as build_storage
from appliance.timebase import ManualClock
from tests.content_support import KIB, make_bundle, serve_ground


def context(tmp_path: Path, watch: bool = False) -> Context:
    path = tmp_path / "appliance.toml"
    path.write_text(
        '[avionics]\nport = "/dev/null"\n[modem]\nport = "/dev/null"\n[groundlink]\nurl = "http://x/"\n'
        f'[storage]\ndir = "{tmp_path / "state"}"\n[content]\ndir = "{tmp_path / "content"}"\n'
        f"watch = {str(watch).lower()}\n"
    )
    return Context(config=load_config(path), config_path=path, clock=ManualClock())


async def test_builders_fill_the_slots_and_the_sync_reaches_the_portal_view(tmp_path: Path) -> None:
    assert (
        BUILDERS.index("appliance.content.component:build") == BUILDERS.index("appliance.storage.component:build") + 1
    )
    make_bundle(tmp_path / "ground", "b1", {"catalog.json": b'{"items": []}', "newspapers/today.pdf": 100 * KIB})

    ctx = context(tmp_path)
    storage = build_storage(ctx)
    content = build_content(ctx)
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
        storage = build_storage(ctx)
        content = build_content(ctx)
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
    storage = build_storage(ctx)
    content = build_content(ctx)
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
        deadline = asyncio.get_running_loop().time() + 5
        while content.checks == before and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert content.checks > before
    finally:
        await content.stop()
        await storage.stop()
