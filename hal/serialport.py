"""A read-only serial port: any pyserial URL (a device node, a pty, `socket://host:port`).

The avionics bus is read-only (shared/ARCHITECTURE.md): `ReadOnlyPort` offers no way to write, and the
pyserial object it wraps has its write methods replaced by ones that refuse, so not even code that reaches
inside can transmit.
"""

from __future__ import annotations

import socket
from typing import Any, NoReturn

import serial

SerialException = serial.SerialException


class WriteRefused(PermissionError):
    """Something tried to write to a read-only port."""


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise WriteRefused("this port is read-only: nothing may be sent to the avionics adapter")


class ReadOnlyPort:
    """Opens `url` with `serial.serial_for_url` and exposes only reading.

    `read_chunk()` is the bulk read: it waits up to `timeout` seconds for the first byte, then takes everything
    already buffered (up to `max_bytes`) in the same call. A lost device raises `serial.SerialException` (or
    OSError); an empty result only means nothing arrived within the timeout.
    """

    __slots__ = ("__serial", "__socket", "url")

    def __init__(self, url: str, baudrate: int = 921600, timeout: float = 0.1) -> None:
        self.url = url
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, do_not_open=True)
        for name in ("write", "writelines", "send_break", "flush"):
            if hasattr(port, name):
                setattr(port, name, _refuse)
        port.open()
        self.__serial = port
        # pyserial's socket:// reports only 0 or 1 byte waiting: its buffer is drained from the socket directly
        sock = getattr(port, "_socket", None)
        self.__socket: socket.socket | None = sock if isinstance(sock, socket.socket) else None

    def read(self, size: int = 1) -> bytes:
        return bytes(self.__serial.read(size))

    def read_chunk(self, max_bytes: int = 65536) -> bytes:
        first = bytes(self.__serial.read(1))
        if not first:
            return b""
        try:
            if self.__socket is not None:
                try:
                    return first + self.__socket.recv(max_bytes - 1, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return first
            waiting = min(self.in_waiting, max_bytes - 1)
            return first + bytes(self.__serial.read(waiting)) if waiting > 0 else first
        except (SerialException, OSError):
            return first  # the loss shows again on the next read; the byte already read is not lost

    @property
    def in_waiting(self) -> int:
        return int(self.__serial.in_waiting)

    @property
    def is_open(self) -> bool:
        return bool(self.__serial.is_open)

    def fileno(self) -> int:
        return int(self.__serial.fileno())

    def cancel_read(self) -> None:
        """Wake a read blocked in another thread (device ports; socket ports return within their timeout)."""
        cancel = getattr(self.__serial, "cancel_read", None)
        if cancel is not None:
            cancel()

    def close(self) -> None:
        self.__serial.close()

    def __enter__(self) -> ReadOnlyPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
