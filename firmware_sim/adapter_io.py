"""Where the simulated ARINC adapter's bytes go: a pty behind a stable symlink, and socket:// clients.

A pty path cannot be reused once closed, so the daemon is given a symlink (in a private temp dir) that points
at the current /dev/pts/N: unplugging closes the pty and removes the link (the reader sees EIO, then "no such
file"), replugging makes a new pty and points the link at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from pathlib import Path

log = logging.getLogger("firmware_sim.avionics")

SLOW_CLIENT_BYTES = 1 << 20  # a socket client this far behind is dropped (like a USB host that stopped reading)


class PtyOutput:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.pts: str | None = None
        self._master: int | None = None
        self.dropped = 0

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # binary: no echo, no line editing, no CR/LF translation before the reader opens it
        self.pts = os.ttyname(slave)
        os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        temporary = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        temporary.symlink_to(self.pts)
        temporary.replace(self.link)

    def unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        if self._master is not None:
            os.close(self._master)
            self._master = None
        self.pts = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def write(self, data: bytes) -> None:
        if self._master is None:
            return
        try:
            written = os.write(self._master, data)
        except BlockingIOError:  # nobody reads: the adapter's buffer overflows and it drops
            written = 0
        except OSError:  # EIO: no reader has the slave open
            written = 0
        self.dropped += len(data) - written


class SocketOutput:
    """A TCP listener on loopback; every connected client gets every byte (read-only: input is discarded)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.plugged = True
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.plugged:
            writer.close()
            return
        self._clients.add(writer)
        try:
            while await reader.read(4096):
                pass  # an adapter has no input: whatever a client sends is ignored
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()

    def write(self, data: bytes) -> None:
        for writer in list(self._clients):
            if writer.is_closing() or writer.transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
                self._clients.discard(writer)
                writer.close()
                continue
            writer.write(data)

    def unplug(self) -> None:
        self.plugged = False
        for writer in list(self._clients):
            writer.close()
        self._clients.clear()

    def plug(self) -> None:
        self.plugged = True

    @property
    def clients(self) -> int:
        return len(self._clients)

    async def stop(self) -> None:
        self.unplug()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
