"""One content-store change at a time, across threads and processes.

The daemon's content sync and repairs run in worker threads; `appliance content install` and
`appliance fsck --repair` run as other processes on the same store. All of them take this lock: a thread lock
(reentrant, so an install may remove old bundles under the lock it holds) plus an flock(2) on a file beside the
store (`<root>.lock`, outside the store so the store's own files stay exactly what its crash tests record).
The kernel drops an flock when its process dies: a crashed holder never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType

POLL_S = 0.05


class StoreBusy(Exception):
    """Another process kept the store locked for longer than the caller would wait."""


class StoreLock:
    def __init__(self, root: Path) -> None:
        self.path = root.with_name(root.name + ".lock")
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, timeout: float | None = None) -> None:
        """Block until held (`timeout` seconds at most: then StoreBusy). OSError when the lock file cannot be
        made (the store's parent directory is missing or read-only)."""
        if not self._thread_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise StoreBusy(f"{self.path}: held by another thread")
        try:
            if self._depth == 0:
                self._fd = self._lock_file(timeout)
            self._depth += 1
        except BaseException:
            self._thread_lock.release()
            raise

    def _lock_file(self, timeout: float | None) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                    return fd
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise StoreBusy(f"{self.path}: another process is changing the content store") from None
                    time.sleep(POLL_S)
        except BaseException:
            os.close(fd)
            raise

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._thread_lock.release()

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
