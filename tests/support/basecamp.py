"""A real ``basecamp serve`` process on a free loopback port, for tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import httpx

from dli.adapters.token_file import TokenFile


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@attrs.define
class BasecampProcess:
    """A running server: its URL, a valid token, and its log lines."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    user: str
    tokens_file: Path
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far (other lines skipped)."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
        return out

    def log_text(self) -> str:
        """The raw log output."""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, predicate: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The first log line matching ``predicate``, waiting for it up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_lines():
                if predicate(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching log line in:\n{self.log_text()[-4000:]}")
            time.sleep(0.05)

    def add_token(self, user: str) -> str:
        """A new token for ``user`` (the running server picks it up)."""
        return TokenFile(self.tokens_file).add(user)

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_basecamp(
    workdir: Path,
    *,
    store_url: str,
    orchestrator_url: str = "memory://?queue_seconds=0.2&run_seconds=0.6",
    check_interval: float = 0.2,
    user: str = "tester",
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
    ready_path: str = "/health",
    tokens_file: Path | None = None,
) -> BasecampProcess:
    """Start ``basecamp serve`` (as ``python -m dli.entrypoints.server``) and wait for ``ready_path``.

    ``/health`` asks the backends; a server whose backends hang is ready when ``/openapi.json`` answers.
    ``tokens_file`` (default ``workdir/tokens.json``) may be shared by replicas, as a secret volume is.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    tokens_file = tokens_file or workdir / "tokens.json"
    token = TokenFile(tokens_file).add(user)
    log_path = workdir / "basecamp.log"
    for _attempt in range(3):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dli.entrypoints.server",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--store",
                store_url,
                "--orchestrator",
                orchestrator_url,
                "--tokens-file",
                str(tokens_file),
                "--check-interval",
                str(check_interval),
                "--log-format",
                "json",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        log.close()
        server = BasecampProcess(
            process=process, url=url, token=token, user=user, tokens_file=tokens_file, log_path=log_path
        )
        deadline = time.monotonic() + startup_timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}{ready_path}", timeout=1.0).status_code in (200, 503):
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        server.stop()
        if "address already in use" not in server.log_text().lower():
            break
    raise RuntimeError(f"basecamp serve did not start:\n{log_path.read_text(errors='replace')[-4000:]}")


def running_basecamp(workdir: Path, **kwargs: Any) -> Iterator[BasecampProcess]:
    """Generator for a pytest fixture: start, yield, stop."""
    server = start_basecamp(workdir, **kwargs)
    try:
        yield server
    finally:
        server.stop()
