"""The outbox, the storage component's lifecycle, boot bookkeeping and the power-fail flush."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
import uuid
from pathlib import Path

import pytest

from appliance.component import Status
from appliance.metrics import Metrics
from appliance.ports import StorageRefused
from appliance.storage.component import StorageComponent
from appliance.storage.config import StorageConfig
from appliance.timebase import ManualClock


def make(path: Path, metrics: Metrics | None = None, clock: ManualClock | None = None) -> StorageComponent:
    return StorageComponent(StorageConfig(dir=str(path)), clock or ManualClock(), metrics)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_append_is_durable_and_survives_restart(tmp_path: Path) -> None:
    storage = make(tmp_path)
    await storage.start()
    items = [await storage.outbox.append("booking", {"item": f"b{i}", "email": "pax@example.com"}) for i in range(3)]
    assert [i.seq for i in items] == [1, 2, 3]
    assert all(uuid.UUID(i.id).version == 4 for i in items)
    await storage.stop()

    again = make(tmp_path)
    await again.start()
    assert [i.id for i in again.outbox.pending()] == [i.id for i in items]
    assert again.outbox.pending()[0].payload == {"item": "b0", "email": "pax@example.com"}
    nxt = await again.outbox.append("booking", {"item": "b3"})
    assert nxt.seq == 4
    await again.stop()


async def test_pending_order_per_kind_and_lifecycle(tmp_path: Path) -> None:
    metrics = Metrics()
    storage = make(tmp_path, metrics)
    await storage.start()
    ob = storage.outbox
    a = await ob.append("booking", {"n": 1})
    b = await ob.append("email", {"n": 2})
    c = await ob.append("booking", {"n": 3})
    assert [i.id for i in ob.pending()] == [a.id, b.id, c.id]
    assert [i.id for i in ob.pending("booking")] == [a.id, c.id]
    assert ob.counts() == {"booking": 2, "email": 1}
    assert sample(metrics, "appliance_outbox_pending", kind="booking") == 2

    await ob.record_attempt(a.id, "HTTP 503")
    await ob.record_attempt(a.id, "timeout")
    assert ob.pending("booking")[0].attempts == 2
    await ob.mark_delivered(a.id, {"status": 201})
    await ob.mark_delivered(a.id, {"status": 201})  # idempotent
    assert [i.id for i in ob.pending("booking")] == [c.id]
    assert sample(metrics, "appliance_outbox_delivered_total", kind="booking") == 1
    assert sample(metrics, "appliance_outbox_pending", kind="booking") == 1

    await ob.dead_letter(b.id, "ground rejected: 422")
    assert ob.pending("email") == []
    dead = ob.dead_letters()
    assert [(d["id"], d["reason"]) for d in dead] == [(b.id, "ground rejected: 422")]
    assert ob.counts() == {"booking": 1, "email": 0}
    await ob.dead_letter(b.id, "again")  # dead twice is dead once
    assert ob.dead_count() == 1
    with pytest.raises(KeyError):
        await ob.mark_delivered(str(uuid.uuid4()), {})
    await storage.stop()

    again = make(tmp_path)
    await again.start()
    assert [i.id for i in again.outbox.pending()] == [c.id]
    assert [i.id for i in again.outbox.pending("booking")] == [c.id]  # the kind's ids, rebuilt at attach
    assert again.outbox.pending("email") == [] and again.outbox.pending("nothing") == []
    assert again.outbox.dead_letters()[0]["reason"] == "again"
    assert again.outbox.counts() == {"booking": 1, "email": 0}
    assert again.outbox.dead_count() == 1  # counted again from the recovered documents
    await again.outbox.mark_delivered(b.id, {"status": 201})  # the ground took it after all
    assert again.outbox.dead_count() == 0 and again.outbox.dead_letters() == []
    await again.stop()


async def test_a_kinds_pending_items_follow_every_change_after_the_first_ask(tmp_path: Path) -> None:
    """pending(kind) scans once, then keeps its ids with each append, delivery and dead letter: it always
    answers what a scan of every document would."""
    storage = make(tmp_path)
    await storage.start()
    ob = storage.outbox

    def scanned(kind: str) -> list[str]:
        return [i.id for i in ob.pending() if i.kind == kind]

    first = await ob.append("payment", {"n": 1})
    assert [i.id for i in ob.pending("payment")] == [first.id] == scanned("payment")  # the ids are made here
    more = [await ob.append(kind, {"n": n}) for n, kind in enumerate(("payment", "booking", "payment"))]
    await ob.mark_delivered(more[0].id, {"status": 201})
    await ob.dead_letter(first.id, "refused: 422")
    for kind in ("payment", "booking", "email"):
        assert [i.id for i in ob.pending(kind)] == scanned(kind)
    assert [i.id for i in ob.pending("payment")] == [more[2].id]
    await storage.stop()


async def test_concurrent_appends_group_commit(tmp_path: Path) -> None:
    storage = make(tmp_path)
    await storage.start()
    items = await asyncio.gather(*(storage.outbox.append("offer", {"i": i}) for i in range(200)))
    assert len({i.id for i in items}) == 200
    assert sorted(i.seq for i in items) == list(range(1, 201))
    assert storage.store is not None
    assert storage.store.journal.batches < 100  # many records per fsync
    await storage.stop()


async def test_no_passenger_email_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    storage = make(tmp_path)
    await storage.start()
    item = await storage.outbox.append("email", {"email": "secret.person@example.org", "item": "x"})
    await storage.outbox.record_attempt(item.id, "503")
    await storage.outbox.dead_letter(item.id, "bounced")
    await storage.stop()
    assert "secret.person" not in caplog.text
    assert item.id in caplog.text


async def test_refuses_bad_payload_and_before_start(tmp_path: Path) -> None:
    storage = make(tmp_path)
    with pytest.raises(StorageRefused):
        await storage.outbox.append("booking", {"a": 1})
    await storage.start()
    with pytest.raises(TypeError):
        await storage.outbox.append("booking", {"a": object()})
    with pytest.raises(ValueError, match="kind"):
        await storage.outbox.append("", {"a": 1})
    assert storage.outbox.pending() == []
    await storage.stop()


async def test_boot_bookkeeping_clean_and_unclean(tmp_path: Path) -> None:
    metrics = Metrics()
    first = make(tmp_path)
    await first.start()
    assert first.boot.previous_shutdown_clean and first.boot.last_shutdown_reason == "first boot"
    await first.stop()

    second = make(tmp_path)
    await second.start()
    assert second.boot.previous_shutdown_clean
    assert second.boot.last_shutdown_reason == "orderly stop"
    assert second.boot.boot_id != first.boot.boot_id
    assert not (tmp_path / "clean-shutdown").exists()  # removed at start
    # a power cut: no stop(), so no marker
    assert second.store is not None
    second.store.close()

    third = make(tmp_path, metrics)
    await third.start()
    assert not third.boot.previous_shutdown_clean
    assert third.boot.unsafe_shutdowns == 1
    assert "unclean" in third.boot.last_shutdown_reason
    assert sample(metrics, "appliance_storage_unsafe_shutdowns_total") == 1
    assert third.health().status == Status.PASS
    await third.stop()


async def test_emergency_flush_refuses_then_resumes(tmp_path: Path) -> None:
    storage = make(tmp_path)
    await storage.start()
    writers = [asyncio.ensure_future(storage.outbox.append("booking", {"i": i})) for i in range(50)]
    await asyncio.sleep(0)  # the appends are queued
    started = time.monotonic()
    await storage.emergency_flush()
    elapsed = time.monotonic() - started
    done = await asyncio.gather(*writers, return_exceptions=True)
    assert all(not isinstance(d, BaseException) for d in done)  # queued before the edge: made durable
    with pytest.raises(StorageRefused, match="power fail"):
        await storage.outbox.append("booking", {"late": True})
    assert storage.health().status == Status.WARN
    storage.resume_writes()
    await storage.outbox.append("booking", {"after": True})
    assert elapsed < 1.5  # typically ~20 ms; generous for a loaded test machine
    assert storage.store is not None
    storage.store.close()  # power gone: no orderly stop

    again = make(tmp_path)
    await again.start()
    payloads = [i.payload for i in again.outbox.pending()]
    assert len(payloads) == 51 and {"after": True} in payloads and {"late": True} not in payloads
    await again.stop()


async def test_health_details(tmp_path: Path) -> None:
    storage = make(tmp_path)
    assert storage.health().status == Status.FAIL
    await storage.start()
    check = storage.health()
    assert check.status == Status.PASS
    assert check.details["time"]["quality"] == "rtc"
    assert check.details["boot"]["boot_id"] == storage.boot.boot_id
    await storage.stop()


async def test_builder_provides_its_services_from_its_own_section_alone(tmp_path: Path) -> None:
    from appliance import ports
    from appliance.core.context import Context
    from appliance.core.testing import build_alone
    from appliance.storage import COMPONENT

    ctx = Context(clock=ManualClock())
    component = build_alone(COMPONENT, {"dir": str(tmp_path / "state")}, ctx=ctx)
    services = ctx.services
    assert services.get(ports.OUTBOX) is component.outbox and services.get(ports.BOOT) is component.boot
    assert services.get(ports.TIME_ANCHOR) is component.time and services.all(ports.FLUSHABLES) == [component]
    assert services.get(ports.STATE_DIR) is component and component.path == tmp_path / "state"
    outbox, boot, anchor = component.outbox, component.boot, component.time
    await component.start()
    item = await outbox.append("booking", {"item": "x"})
    assert outbox.pending()[0].id == item.id
    assert boot.previous_shutdown_clean
    anchor.anchor(1_790_000_000.0, "network")
    await component.stop()
    assert (tmp_path / "state" / "clean-shutdown").exists()


async def test_unwritable_state_dir_is_a_health_failure_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    storage = make(blocker / "state")
    await storage.start()
    check = storage.health()
    assert check.status == Status.FAIL and "did not start" in check.reason
    assert not storage.boot.previous_shutdown_clean  # unknown is not clean
    with pytest.raises(StorageRefused):
        await storage.outbox.append("booking", {"a": 1})
    await storage.emergency_flush()
    await storage.stop()


async def test_emergency_flush_does_not_queue_behind_busy_worker_threads(tmp_path: Path) -> None:
    storage = make(tmp_path)
    await storage.start()
    writers = [asyncio.ensure_future(storage.outbox.append("booking", {"i": i})) for i in range(20)]
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    busy = [asyncio.ensure_future(asyncio.to_thread(time.sleep, 2.0))]  # the only worker thread is taken
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await storage.emergency_flush()
    assert time.monotonic() - started < 1.5
    assert all(w.done() and w.exception() is None for w in writers)
    await asyncio.gather(*busy)
    storage.resume_writes()
    await storage.stop()


async def test_cancelled_append_is_still_bookkept(tmp_path: Path) -> None:
    storage = make(tmp_path)
    await storage.start()
    task = asyncio.ensure_future(storage.outbox.append("booking", {"x": 1}))
    await asyncio.sleep(0)  # queued
    task.cancel()  # e.g. the passenger's connection dropped
    with pytest.raises(asyncio.CancelledError):
        await task
    assert storage.store is not None
    await asyncio.wrap_future(storage.store.journal.barrier())
    await asyncio.sleep(0.01)
    pending = storage.outbox.pending()
    assert len(pending) == 1 and storage.outbox.counts() == {"booking": 1}
    await storage.outbox.mark_delivered(pending[0].id, {"status": 201})
    assert storage.outbox.pending() == []
    await storage.stop()


async def test_storage_metrics(tmp_path: Path) -> None:
    metrics = Metrics()
    storage = make(tmp_path, metrics)
    await storage.start()
    assert sample(metrics, "appliance_storage_refusing_writes") == 0
    assert sample(metrics, "appliance_storage_corrupt_regions") == 0
    await storage.emergency_flush()
    assert sample(metrics, "appliance_storage_refusing_writes") == 1
    storage.resume_writes()
    assert sample(metrics, "appliance_storage_refusing_writes") == 0
    await storage.stop()


def test_ids_are_uuid4_and_differ_after_fork() -> None:
    import os

    from appliance.storage.outbox import new_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    mine = new_id()
    assert child != mine and uuid.UUID(mine).version == 4 and uuid.UUID(child).version == 4


async def test_start_is_retried_until_the_state_dir_works(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("in the way")
    storage = StorageComponent(StorageConfig(dir=str(blocker), start_retry_interval=0.05), ManualClock())
    await storage.start()
    assert storage.health().status == Status.FAIL
    blocker.unlink()  # e.g. the disk came back
    for _ in range(100):
        await asyncio.sleep(0.02)
        if storage.store is not None:
            break
    assert storage.health().status == Status.PASS
    await storage.outbox.append("booking", {"late": "start"})
    assert storage.boot.boots == 1
    await storage.stop()


async def test_records_queued_when_a_power_fail_refuses_writes_survive_the_next_checkpoint(tmp_path: Path) -> None:
    """Regression: a refusal during a power-fail freeze once rolled back transactions still on their way to
    disk; they became durable and were acknowledged, memory lost them, and the orderly stop's checkpoint
    (written from memory) dropped them. Every acknowledged order must survive freeze, resume, stop and boot."""
    import contextlib

    from appliance.metrics import Metrics
    from appliance.ports import StorageRefused
    from appliance.storage.component import StorageComponent
    from appliance.storage.config import StorageConfig
    from appliance.timebase import SystemClock

    config = StorageConfig(dir=str(tmp_path / "state"))
    storage = StorageComponent(config, SystemClock(), Metrics())
    await storage.start()
    assert storage.outbox is not None
    acknowledged: list[str] = []

    async def writer() -> None:
        while True:
            try:
                acknowledged.append((await storage.outbox.append("booking", {"item": "x"})).id)  # type: ignore[union-attr]
            except StorageRefused:
                await asyncio.sleep(0.001)

    writers = [asyncio.create_task(writer()) for _ in range(8)]
    for _ in range(25):
        await asyncio.sleep(0.01)
        await storage.emergency_flush()
        await asyncio.sleep(0.003)
        storage.resume_writes()
    for task in writers:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await storage.stop()
    again = StorageComponent(config, SystemClock(), Metrics())
    await again.start()
    assert again.outbox is not None
    kept = {item.id for item in again.outbox.pending()}
    await again.stop()
    assert len(acknowledged) > 100
    assert set(acknowledged) <= kept, f"{len(set(acknowledged) - kept)} acknowledged orders lost"
