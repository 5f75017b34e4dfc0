"""The ``dli`` CLI run as a user runs it: a subprocess (``python -m dli``), with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import attrs


@attrs.frozen
class Completed:
    """What one ``dli`` invocation did, and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


def dli_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``dli`` process: no ``DLI_*`` of the caller's, no user config file, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "AWS_"))}
    env["XDG_CONFIG_HOME"] = str(home / "xdg")
    env["XDG_CACHE_HOME"] = str(home / "xdg-cache")  # the SQL check's verdicts, of this test only
    env.update(settings)
    return env


def run_dli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 90.0) -> Completed:
    """Run ``dli ARGS`` to its end (``timeout`` only guards the test run itself)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return Completed(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
