"""Detached processes and their sessions (Linux), and loopback ports.

Each component is started in a session of its own, so that stopping it reaches every process it
spawned: Airflow runs each task in a process group of its own inside the same session, and a busy
task left behind would outlive the stack.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["free_port", "port_in_use", "session_alive", "session_pids", "spawn_detached", "stop_session"]


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


def session_pids(sid: int) -> list[int]:
    """Pids of the live (non-zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # state ppid pgrp session ...
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry))
    return pids


def session_alive(sid: int) -> bool:
    """Whether any live process of session ``sid`` remains."""
    _reap(sid)
    return bool(session_pids(sid))


def stop_session(sid: int, *, grace_seconds: float = 10.0) -> None:
    """SIGTERM every process of the session, then SIGKILL what is left after ``grace_seconds``."""
    for sig, wait in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        pids = session_pids(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(sid)
            if not session_pids(sid):
                return
            time.sleep(0.2)


def _reap(leader: int) -> None:
    """Collect the session leader if it is our exited child, so it does not linger as a zombie.

    Only that pid: reaping any child would steal exit statuses from the caller's other subprocesses.
    """
    try:
        os.waitpid(leader, os.WNOHANG)
    except ChildProcessError:
        pass
