"""A client of the simulator's I2C register server with smbus2's method names, so the real drivers run on it.

Line protocol (ASCII, one request per line, one answer each):

    R <addr> <reg> <n>          ->  = <hex bytes>      read n bytes starting at register reg
    W <addr> <reg> <hex bytes>  ->  =                  write bytes starting at register reg
    any                         ->  ! nack             no device answered (raised as OSError EREMOTEIO, as smbus2)

Bytes travel in wire order, so a word read is (first byte) | (second byte) << 8, exactly as SMBus does.
"""

from __future__ import annotations

import errno
import socket
import threading
from urllib.parse import urlsplit

TIMEOUT = 1.0


class NetBus:
    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme != "tcp" or not parts.hostname or not parts.port:
            raise ValueError(f"expected tcp://HOST:PORT, got {url!r}")
        self.url = url
        self._address = (parts.hostname, parts.port)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection(self._address, timeout=self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._buffer = b""
        return self._sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None

    def _request(self, command: str) -> str:
        with self._lock:
            try:
                sock = self._connect()
                sock.sendall(command.encode("ascii") + b"\n")
                while b"\n" not in self._buffer:
                    chunk = sock.recv(4096)
                    if not chunk:
                        raise ConnectionError("register server closed the connection")
                    self._buffer += chunk
            except OSError:
                self._drop()  # reconnect on the next request (the sensor's re-initialisation)
                raise
            line, _, self._buffer = self._buffer.partition(b"\n")
        answer = line.decode("ascii", "replace").strip()
        if answer.startswith("="):
            return answer[1:].strip()
        raise OSError(errno.EREMOTEIO, f"I2C: {answer[1:].strip() or 'no answer'}")

    def _read(self, addr: int, register: int, length: int) -> list[int]:
        data = bytes.fromhex(self._request(f"R {addr} {register} {length}"))
        if len(data) != length:
            raise OSError(errno.EIO, f"I2C: short read ({len(data)} of {length})")
        return list(data)

    def _write(self, addr: int, register: int, data: bytes) -> None:
        self._request(f"W {addr} {register} {data.hex()}")

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        return self._read(i2c_addr, register, 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._write(i2c_addr, register, bytes([value & 0xFF]))

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        low, high = self._read(i2c_addr, register, 2)
        return low | high << 8

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None:
        self._write(i2c_addr, register, bytes([value & 0xFF, (value >> 8) & 0xFF]))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        return self._read(i2c_addr, register, length)

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        self._write(i2c_addr, register, bytes(data))

    def close(self) -> None:
        with self._lock:
            self._drop()
