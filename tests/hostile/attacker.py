"""A hostile passenger's laptop, as its own process (its sockets are not the daemon's descriptors).

    python -m tests.hostile.attacker MODE HOST PORT COUNT SOURCES [SECONDS]

MODE: `idle` (connect, send nothing), `slowloris` (a request head, one header line a second, never finished),
`stream` (GET the flight stream with a tiny receive buffer, never read). SOURCES: comma-separated local
addresses to connect from (loopback 127.x.y.z, one per spoofed device), COUNT connections from each.
Prints one JSON line when all connects were tried: {"connected": N, "failed": N}; then every 0.5 s
{"open": N} (connections the server has not closed), until SECONDS pass or stdin closes.
"""

from __future__ import annotations

import contextlib
import json
import resource
import select
import socket
import sys
import time


def connect(host: str, port: int, source: str, mode: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if mode == "stream":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # the window shuts at once: a reader that stopped
    try:
        sock.bind((source, 0))
        sock.settimeout(2)
        sock.connect((host, port))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    if mode == "stream":
        sock.sendall(f"GET /api/v1/flight/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    elif mode == "slowloris":
        sock.sendall(f"GET /api/v1/flight HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())
    return sock


def alive(sock: socket.socket) -> bool:
    """Not closed by the server (a stream's unread bytes stay unread: peek only)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    if not data:
        return False
    # an answer (a 503 refusal, a stream's frames): alive until the server closes; refusals are closed at once
    head = sock.recv(64, socket.MSG_PEEK)
    return not head.startswith(b"HTTP/1.1 503")


def main() -> None:
    mode, host, port, count, sources = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    seconds = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # whatever the test set for the daemon
    socks: list[socket.socket] = []
    failed = 0
    for source in sources.split(","):
        for _ in range(count):
            sock = connect(host, port, source, mode)
            if sock is None:
                failed += 1
            else:
                socks.append(sock)
    print(json.dumps({"connected": len(socks), "failed": failed}), flush=True)
    deadline = time.monotonic() + seconds
    tick = 0
    while time.monotonic() < deadline:
        stdin = select.poll()
        stdin.register(sys.stdin, select.POLLIN | select.POLLHUP)
        if stdin.poll(500) and not sys.stdin.readline():
            break
        tick += 1
        if mode == "slowloris":
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.send(f"X-Slow-{tick}: 1\r\n".encode())
        print(json.dumps({"open": sum(1 for s in socks if alive(s))}), flush=True)
    for sock in socks:
        sock.close()


if __name__ == "__main__":
    main()
