"""``dli dev``: port conflicts, half-started stacks and ``down`` touching only its own processes.

The full start of the stack against a real Airflow is in tests/e2e/test_dev_stack.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.devstack.stack import find_airflow_venv
from dli.entrypoints.devstack.processes import session_alive, spawn_detached, stop_session

DLI = str(Path(sys.executable).parent / "dli")


def dli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


@pytest.fixture
def fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    airflow = venv / "bin" / "airflow"
    airflow.write_text("#!/bin/sh\nsleep 600\n")
    airflow.chmod(0o755)
    return venv


def test_up_refuses_a_port_in_use_and_starts_nothing(tmp_path, fake_venv):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = dli("dev", "up", "--home", str(tmp_path / "home"), "--airflow-venv", str(fake_venv),
                     "--airflow-port", str(port), env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert result.returncode != 0
    assert "DLI-001" in result.stderr and str(port) in result.stderr
    assert "Traceback" not in result.stderr
    state = tmp_path / "home" / "state.json"
    assert not state.exists() or "airflow" not in json.loads(state.read_text())


def test_missing_airflow_installation_explains_how_to_install(tmp_path):
    with pytest.raises(ConfigurationError) as exc:
        find_airflow_venv(str(tmp_path / "none"), search=[str(tmp_path / "also-none")])
    assert "install-airflow.sh" in " ".join(exc.value.hints)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "airflow").touch()
    assert find_airflow_venv(None, search=[str(tmp_path / "none"), str(venv)]) == venv.resolve()


def test_status_reports_a_half_started_stack_as_stopped(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    dead = subprocess.Popen(["true"], start_new_session=True)
    dead.wait()
    (home / "state.json").write_text(json.dumps({
        "airflow": {"pid": dead.pid, "url": "http://127.0.0.1:9", "log": "a.log"},
        "basecamp": {"pid": dead.pid, "url": "http://127.0.0.1:9", "log": "b.log"},
    }))
    result = dli("dev", "status", "--home", str(home))
    assert result.returncode == 1
    assert result.stdout.count("stopped") == 2


def test_down_stops_only_what_up_recorded(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    ours = spawn_detached(["sleep", "300"], env=dict(os.environ), log=tmp_path / "ours.log", cwd=tmp_path)
    theirs = spawn_detached(["sleep", "300"], env=dict(os.environ), log=tmp_path / "theirs.log", cwd=tmp_path)
    try:
        (home / "state.json").write_text(json.dumps({"airflow": {"pid": ours, "url": "http://127.0.0.1:9"}}))
        result = dli("dev", "down", "--home", str(home))
        assert result.returncode == 0 and "airflow" in result.stdout
        assert not session_alive(ours)
        assert session_alive(theirs)
        assert "nothing was running" in dli("dev", "down", "--home", str(home)).stdout
    finally:
        stop_session(ours, grace_seconds=1)
        stop_session(theirs, grace_seconds=1)
