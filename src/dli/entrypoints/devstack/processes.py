"""Detached processes and their sessions (Linux; the process table through psutil), and loopback ports.

Each component is started in a session of its own, so that stopping it reaches every process it
spawned: Airflow runs each task in a process group of its own inside the same session, and a busy
task left behind would outlive the stack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import psutil

__all__ = [
    "free_port",
    "leader_alive",
    "port_in_use",
    "session_alive",
    "session_pids",
    "signals_deferred",
    "signals_interrupt",
    "spawn_detached",
    "stop_session",
]

# What ends a command run from a terminal: Ctrl-C, `kill`, the terminal closing.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def spawn_detached(argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path) -> int:
    """Start ``argv`` in a new session, output appended to ``log``; return its pid (= session id)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab", buffering=0) as out:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc.pid


@contextmanager
def signals_deferred(signums: Sequence[int] = INTERRUPTS) -> Iterator[None]:
    """Hold ``signums`` back while the block runs, then deliver them to the handlers they had.

    For a block that must not be cut in half, such as starting a process and recording its pid: an
    interrupt in between would leave a process that nobody knows about. Only Python-level handlers
    are swapped, so processes spawned inside start with the usual signal dispositions.
    """
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    held: list[int] = []
    previous = {}
    for signum in signums:
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_IGN, None):  # ignored stays ignored; None: not set from Python
            continue
        previous[signum] = signal.signal(signum, lambda received, _frame: held.append(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):
            signal.raise_signal(signum)


@contextmanager
def signals_interrupt(signums: Sequence[int] = (signal.SIGTERM, signal.SIGHUP)) -> Iterator[None]:
    """Make ``signums`` raise ``KeyboardInterrupt`` while the block runs, as Ctrl-C does.

    So that code cleaning up after Ctrl-C also cleans up after ``kill`` or a closed terminal. A
    signal ignored (``nohup``) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = {}
    for signum in signums:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def session_pids(sid: int) -> list[int]:
    """Pids of the live (non-zombie) processes of session ``sid``."""
    pids = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) != sid:
                continue
        except OSError:  # gone since the listing
            continue
        if not _zombie(pid):
            pids.append(pid)
    return pids


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to collect it.

    ``os.getsid`` still answers for a zombie, and an orphan stays one until init collects it (some
    inits take seconds, some never do): counting it would keep a stopped session "alive".
    """
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True  # collected meanwhile: as good as gone


def session_alive(sid: int) -> bool:
    """Whether any live process of session ``sid`` remains."""
    _reap(sid)
    return bool(session_pids(sid))


def leader_alive(sid: int) -> bool:
    """Whether the session's leader, the process that was started, still runs (its children may not
    have noticed that it is gone)."""
    _reap(sid)
    try:
        return os.getsid(sid) == sid and not _zombie(sid)
    except OSError:
        return False


def stop_session(sid: int, *, grace_seconds: float = 10.0) -> bool:
    """SIGTERM every process of the session, then SIGKILL what is left after ``grace_seconds``.

    Returns whether the session is gone (a process stuck in the kernel can outlive SIGKILL for a while).
    """
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        pids = session_pids(sid)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(sid)
            if not session_pids(sid):
                return True
            time.sleep(0.2)
    return not session_alive(sid)


def _reap(leader: int) -> None:
    """Collect the session leader if it is our exited child, so it does not linger as a zombie.

    Only that pid: reaping any child would steal exit statuses from the caller's other subprocesses.
    """
    try:
        os.waitpid(leader, os.WNOHANG)
    except ChildProcessError:
        pass
