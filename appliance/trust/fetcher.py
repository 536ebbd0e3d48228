"""python-tuf's Updater is synchronous; the daemon's network is aiohttp on one event loop. `LoopFetcher`
is the bridge: the Updater runs in a worker thread (`asyncio.to_thread`) and each GET and each body read is
run on the loop (`run_coroutine_threadsafe`) through the caller's aiohttp session, so the trust refresh shares
the ground link's session, its connection limits and its byte budget.

Slow retrieval (TUF's attack): a read that waits longer than `read_timeout` seconds, or a body that after
`rate_grace` seconds arrives slower than `min_rate` bytes/s on average, raises SlowRetrievalError. Endless
data is bounded by python-tuf itself (download_file stops past the declared or configured maximum length);
the fetcher streams in chunks, so an endless body never sits in memory.

Errors: an HTTP status other than 200 raises DownloadHTTPError(status); connection errors and an exhausted
budget raise DownloadError (the Updater's contract for fetchers). Never call it from the loop's own thread
(it would wait on itself): it raises RuntimeError instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

CHUNK = 64 * 1024
T = TypeVar("T")


class BudgetExhausted(Exception):
    """Raised by a budget callback: the ground window's byte allowance is spent."""


class LoopFetcher(FetcherInterface):
    def __init__(
        self,
        session: aiohttp.ClientSession,
        loop: asyncio.AbstractEventLoop,
        *,
        budget: Callable[[int], None] | None = None,
        read_timeout: float = 20.0,
        min_rate: float = 256.0,
        rate_grace: float = 10.0,
    ) -> None:
        self.session = session
        self.loop = loop
        self.budget = budget
        self.read_timeout = read_timeout
        self.min_rate = min_rate
        self.rate_grace = rate_grace
        self.bytes_received = 0  # every body byte fetched through this fetcher (metadata and targets)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self.loop.is_closed():
            coro.close()
            raise exceptions.DownloadError("the event loop is closed")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coro.close()
            raise RuntimeError("LoopFetcher must run in a worker thread, not on its event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout + 5.0)  # the coroutine has its own timeout; this is a backstop
        except TimeoutError:
            future.cancel()
            raise

    async def _open(self, url: str) -> aiohttp.ClientResponse:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.read_timeout, sock_read=self.read_timeout)
        response = await self.session.get(url, timeout=timeout, allow_redirects=False)
        if response.status != 200:
            status = response.status
            response.release()
            raise exceptions.DownloadHTTPError(f"{url}: HTTP {status}", status)
        return response

    async def _read(self, response: aiohttp.ClientResponse, seconds: float) -> bytes:
        async with asyncio.timeout(seconds):
            return await response.content.read(CHUNK)

    async def _close(self, response: aiohttp.ClientResponse) -> None:
        response.close()  # never reuse a connection whose body was not read to the end

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._call(self._open(url), self.read_timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise exceptions.DownloadError(f"{url}: {error!r}") from error
        return self._chunks(url, response)

    def _chunks(self, url: str, response: aiohttp.ClientResponse) -> Iterator[bytes]:
        start = time.monotonic()
        received = 0
        try:
            while True:
                elapsed = time.monotonic() - start
                # wait no longer than the read timeout, nor past the moment the average rate would fail
                wait = self.read_timeout
                if self.min_rate > 0:
                    wait = min(wait, max(self.rate_grace, (received + 1) / self.min_rate) - elapsed + 0.01)
                try:
                    chunk = self._call(self._read(response, max(wait, 0.01)), max(wait, 0.01))
                except TimeoutError:
                    raise exceptions.SlowRetrievalError(f"{url}: {received} bytes in {elapsed:.1f} s") from None
                except (aiohttp.ClientError, OSError) as error:
                    raise exceptions.DownloadError(f"{url}: {error!r}") from error
                if not chunk:
                    return
                received += len(chunk)
                self.bytes_received += len(chunk)
                if self.budget is not None:
                    try:
                        self.budget(len(chunk))
                    except BudgetExhausted as error:
                        raise exceptions.DownloadError(f"{url}: budget exhausted") from error
                elapsed = time.monotonic() - start
                if self.min_rate > 0 and elapsed > self.rate_grace and received / elapsed < self.min_rate:
                    raise exceptions.SlowRetrievalError(f"{url}: {received / elapsed:.0f} B/s")
                yield chunk
        finally:
            try:
                self._call(self._close(response), 5.0)
            except (exceptions.DownloadError, TimeoutError, RuntimeError):
                response.close()
