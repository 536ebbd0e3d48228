"""The read-only serial port on a real pty and a real socket:// connection."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import serial

from hal.serialport import ReadOnlyPort, WriteRefused


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    return master, path


def test_reads_in_bulk_from_a_pty() -> None:
    master, path = _pty()
    try:
        with ReadOnlyPort(path, timeout=1.0) as port:
            os.write(master, bytes(range(256)) * 4)
            received = b""
            while len(received) < 1024:
                chunk = port.read_chunk()
                assert chunk
                received += chunk
            assert received == bytes(range(256)) * 4  # raw: no line discipline translation
            assert port.read_chunk() == b""  # nothing more within the timeout
    finally:
        os.close(master)


def test_no_code_path_can_write() -> None:
    master, path = _pty()
    try:
        port = ReadOnlyPort(path, timeout=0.1)
        assert not hasattr(port, "write")
        with pytest.raises(AttributeError):
            port.foo = 1  # type: ignore[attr-defined]
        inner = port._ReadOnlyPort__serial  # type: ignore[attr-defined]
        for method in ("write", "writelines", "send_break"):
            with pytest.raises(WriteRefused):
                getattr(inner, method)(b"x")
        os.set_blocking(master, False)
        with pytest.raises(BlockingIOError):
            os.read(master, 100)  # nothing ever reached the adapter's side
        port.close()
    finally:
        os.close(master)


def test_lost_pty_raises_serial_exception() -> None:
    master, path = _pty()
    port = ReadOnlyPort(path, timeout=0.5)
    os.close(master)
    with pytest.raises((serial.SerialException, OSError)):
        for _ in range(3):
            port.read_chunk()
    port.close()


def test_socket_url_reads_and_reports_disconnect() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port_number = server.getsockname()[1]

    def serve() -> None:
        connection, _ = server.accept()
        time.sleep(0.3)  # pyserial's socket:// open() discards what is already waiting
        connection.sendall(b"\x5a\xa5hello")
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with ReadOnlyPort(f"socket://127.0.0.1:{port_number}", timeout=1.0) as port:
            received = b""
            with pytest.raises(serial.SerialException):
                for _ in range(10):
                    received += port.read_chunk()
            assert received == b"\x5a\xa5hello"
            with pytest.raises(WriteRefused):
                port._ReadOnlyPort__serial.write(b"x")  # type: ignore[attr-defined]
    finally:
        thread.join()
        server.close()


def test_socket_url_reads_a_burst_in_one_call() -> None:
    """pyserial's socket:// says at most 1 byte is waiting; the port still takes the whole burst at once (a
    reader that batches its reads would otherwise fall behind the bus)."""
    server = socket.create_server(("127.0.0.1", 0))
    port_number = server.getsockname()[1]
    burst = bytes(range(256)) * 20
    sent = threading.Event()

    def serve() -> None:
        connection, _ = server.accept()
        time.sleep(0.3)  # pyserial's socket:// open() discards what is already waiting
        connection.sendall(burst)
        sent.set()
        time.sleep(0.5)
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with ReadOnlyPort(f"socket://127.0.0.1:{port_number}", timeout=1.0) as port:
            assert sent.wait(5)
            time.sleep(0.05)
            assert port.read_chunk() == burst
    finally:
        thread.join()
        server.close()
