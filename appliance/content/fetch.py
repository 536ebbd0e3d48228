"""Fetching one chunk of a staged file from the ground: a Range GET for the bytes as stored, or the whole file
when the server answers a Range request with a 200 (see appliance.content.answers).

Durability (see appliance.content.sync): received bytes are made durable and logged SUBBLOCK at a time, so a
cut or a kill loses at most the block in flight. A whole-file answer fills every chunk of that file still
queued (each verified against its hash, made durable and logged as it completes), so a server that ignores
Range costs one download of the file, not one per chunk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import aiohttp

from appliance.content.answers import IDENTITY, LinkDown, SyncFailed, check_range
from appliance.content.manifest import FileEntry
from appliance.content.staging import Staging
from appliance.fs.durable import write_durable

log = logging.getLogger("appliance.content.sync")

# Received bytes are made durable and logged SUBBLOCK at a time. A kill loses, per request in flight, at most
# the block being received and the one being logged: with up to 4 in flight that is at most one chunk.
SUBBLOCK = 32 * 1024

ByteBudget = Callable[[int], bool]
"""Asked before each range request with the bytes it will fetch: True to go ahead, False to stop cleanly."""

SyncStatus = Literal["activated", "up_to_date", "budget", "interrupted", "failed", "refused"]


@dataclass
class SyncResult:
    status: SyncStatus
    bundle_id: str | None = None
    bytes_total: int = 0  # size of the bundle
    bytes_downloaded: int = 0  # body bytes received from the network in this run
    bytes_local: int = 0  # bytes copied from the store instead of fetched
    bytes_resumed: int = 0  # bytes already staged by an earlier, interrupted run
    chunks_fetched: int = 0
    chunks_local: int = 0
    corrupt_chunks: int = 0
    requests: int = 0
    whole_file_answers: int = 0  # 200s to a Range request, taken as the whole file
    unusable_answers: int = 0  # answers that could not be used (their files skipped in this attempt)
    unusable_reasons: dict[str, int] = field(default_factory=dict)  # by appliance.content.answers.REASONS
    seconds: float = 0.0
    error: str = ""
    refusal: str | None = None  # the verifier's reason when something was not signed (status "refused")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def note_unusable(self, reason: str) -> None:
        self.unusable_answers += 1
        self.unusable_reasons[reason] = self.unusable_reasons.get(reason, 0) + 1


@dataclass
class Job:
    entry: FileEntry
    index: int
    url: str


@dataclass
class Run:
    staging: Staging
    result: SyncResult
    budget: ByteBudget | None = None
    on_received: Callable[[int], None] | None = None
    jobs: deque[Job] = field(default_factory=deque)
    stop: str = ""  # why no new requests are issued: "budget", "link", "failed"
    error: str = ""
    skipped: dict[str, str] = field(default_factory=dict)  # file path -> why its answer was unusable

    def received(self, nbytes: int) -> None:
        self.result.bytes_downloaded += nbytes
        if self.on_received is not None:
            self.on_received(nbytes)

    def skip_file(self, path: str, why: str) -> None:
        """Nothing more is asked for this file in this attempt."""
        self.skipped[path] = why
        self.jobs = deque(j for j in self.jobs if j.entry.path != path)


async def download(session: aiohttp.ClientSession, run: Run, job: Job, *, start: int) -> None:
    """Fetch bytes [start, length) of the job's chunk; every SUBBLOCK is made durable and logged except the
    last (logged as complete only once the chunk's hash is verified). Raises LinkDown, SyncFailed or
    Unusable (appliance.content.answers); on LinkDown and cancellation what was received is kept."""
    staging = run.staging
    path, index = job.entry.path, job.index
    offset, length = job.entry.chunk_range(index, staging.manifest.chunk_size)
    target = staging.files / path
    position = start
    pending = bytearray()

    def save_partial() -> None:
        nonlocal position
        if pending and position + len(pending) < length:
            write_durable(target, offset + position, bytes(pending), staging.ops)
            position += len(pending)
            pending.clear()
            staging.record([(path, index, position)])

    first, last = offset + start, offset + length - 1
    run.result.requests += 1
    try:
        async with session.get(job.url, headers={"Range": f"bytes={first}-{last}", **IDENTITY}) as response:
            if check_range(job.url, response.status, response.headers, first=first, last=last, size=job.entry.size):
                run.result.whole_file_answers += 1
                await _take_whole_file(response, run, job)
                return
            async for data in response.content.iter_chunked(SUBBLOCK):
                run.received(len(data))
                pending += data
                if position + len(pending) > length:
                    raise SyncFailed(f"{job.url}: more bytes than asked for")
                if len(pending) >= SUBBLOCK and position + len(pending) < length:
                    block = bytes(pending)
                    await asyncio.to_thread(write_durable, target, offset + position, block, staging.ops)
                    position += len(block)
                    del pending[: len(block)]
                    await asyncio.to_thread(staging.record, [(path, index, position)])
        if position + len(pending) != length:
            raise LinkDown(f"{job.url}: body ended after {position + len(pending) - start} bytes")
        await asyncio.to_thread(write_durable, target, offset + position, bytes(pending), staging.ops)
    except asyncio.CancelledError:
        save_partial()
        raise
    except (aiohttp.ClientError, TimeoutError) as error:
        save_partial()
        raise LinkDown(f"{job.url}: {error!r}") from None
    except LinkDown:
        save_partial()
        raise


async def _take_whole_file(response: aiohttp.ClientResponse, run: Run, job: Job) -> None:
    """A 200 with the whole file to the job's Range request. The job's own chunk is written (its caller
    verifies and logs it); every other chunk of the file still queued is claimed (within the byte budget),
    verified, written and logged as it streams by. Reading stops after the last chunk wanted. A claimed chunk
    that fails its hash, or that the body ended before, goes back in the queue. Raises LinkDown when the body
    ends before the job's own chunk."""
    staging, entry = run.staging, job.entry
    chunk_size = staging.manifest.chunk_size
    claimed: set[int] = set()
    for other in list(run.jobs):
        if other.entry.path != entry.path:
            continue
        length = staging.chunk_length(entry, other.index) - staging.bytes_done(entry, other.index)
        if run.budget is not None and not run.budget(length):
            break
        claimed.add(other.index)
    run.jobs = deque(j for j in run.jobs if not (j.entry.path == entry.path and j.index in claimed))
    wanted = claimed | {job.index}
    target = staging.files / entry.path
    index, buffer = 0, bytearray()
    try:
        async for data in response.content.iter_chunked(SUBBLOCK):
            run.received(len(data))
            buffer += data
            while index < len(entry.chunks) and len(buffer) >= entry.chunk_range(index, chunk_size)[1]:
                offset, length = entry.chunk_range(index, chunk_size)
                piece = bytes(buffer[:length])
                del buffer[:length]
                if index == job.index:
                    await asyncio.to_thread(write_durable, target, offset, piece, staging.ops)
                elif index in claimed:
                    claimed.discard(index)
                    if hashlib.sha256(piece).hexdigest() == entry.chunks[index]:
                        await asyncio.to_thread(write_durable, target, offset, piece, staging.ops)
                        await asyncio.to_thread(staging.record, [(entry.path, index, length)])
                        run.result.chunks_fetched += 1
                    else:
                        run.result.corrupt_chunks += 1
                        log.warning("chunk %d of %s (whole-file answer) failed its hash: queued again", index,
                                    entry.path)
                        run.jobs.appendleft(Job(entry, index, job.url))
                wanted.discard(index)
                index += 1
            if not wanted:
                return  # the rest of the body is not needed: closing the answer drops the connection
            if len(buffer) > entry.size:
                raise SyncFailed(f"{job.url}: more bytes than the file has")
    except (aiohttp.ClientError, TimeoutError) as error:
        raise LinkDown(f"{job.url}: {error!r}") from None
    finally:
        for left in sorted(claimed, reverse=True):  # not received: fetched again by range
            run.jobs.appendleft(Job(entry, left, job.url))
    if job.index in wanted:
        raise LinkDown(f"{job.url}: the whole-file answer ended before chunk {job.index}")
