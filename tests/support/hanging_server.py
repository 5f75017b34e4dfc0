"""A TCP server that accepts connections and never answers: what a hung dependency looks like."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import attrs

__all__ = ["HangingServer", "hanging_server"]


@attrs.define
class HangingServer:
    url: str
    """``http://127.0.0.1:PORT``."""
    connections: int = 0
    """Connections accepted so far."""


@contextlib.contextmanager
def hanging_server() -> Iterator[HangingServer]:
    """A listener on a free loopback port that takes every connection and stays silent."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    server = HangingServer(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)  # kept open, never read from or written to
            server.connections += 1

    thread = threading.Thread(target=accept, name="hanging-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()
