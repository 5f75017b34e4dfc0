"""TCP servers that accept connections and never answer: what a hung dependency looks like."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import attrs

__all__ = ["HangingProxy", "HangingServer", "hanging_proxy", "hanging_server"]


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


@attrs.define
class HangingProxy:
    """A TCP proxy that forwards to a target until ``hang()``; from then on it answers nothing."""

    url: str
    """``http://127.0.0.1:PORT``."""
    stalled: threading.Event = attrs.field(factory=threading.Event)
    """Set by ``hang()``."""

    def hang(self) -> None:
        """From now on take every connection and every byte, and answer nothing (also on open connections)."""
        self.stalled.set()

    @property
    def hanging(self) -> bool:
        """Whether ``hang()`` was called."""
        return self.stalled.is_set()


@contextlib.contextmanager
def hanging_proxy(target_url: str) -> Iterator[HangingProxy]:
    """A proxy on a free loopback port to ``target_url`` (``http://host:port``), hung by ``hang()``.

    What a dependency looks like that worked a moment ago and now hangs: kept-alive connections stay
    open and go silent, new ones are accepted and never answered.
    """
    target = target_url.removeprefix("http://").rstrip("/")
    host, _, port = target.partition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    proxy = HangingProxy(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
    held: list[socket.socket] = []
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        while not stop.is_set():
            try:
                chunk = source.recv(65536)
            except OSError:
                return
            if not chunk:
                if not proxy.hanging:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                return
            if proxy.hanging:
                continue  # swallowed: the caller waits for an answer that never comes
            try:
                sink.sendall(chunk)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            if proxy.hanging:
                continue
            try:
                upstream = socket.create_connection((host, int(port)), timeout=5)
            except OSError:
                conn.close()
                continue
            upstream.settimeout(None)
            held.append(upstream)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=pump, args=(a, b), name="hanging-proxy-pump", daemon=True).start()

    thread = threading.Thread(target=accept, name="hanging-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            with contextlib.suppress(OSError):
                conn.close()
        listener.close()
