"""``dli dev``: port conflicts, half-started stacks and ``down`` touching only its own processes.

The full start of the stack against a real Airflow is in tests/e2e/test_dev_stack.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dli.adapters.token_file import TokenFile
from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.devstack.processes import free_port, session_alive, spawn_detached, stop_session
from dli.entrypoints.devstack.stack import find_airflow_venv
from tests.support.devstack import dev_env, fake_pids, recorded, running, wait_for

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
        result = dli(
            "dev",
            "up",
            "--home",
            str(tmp_path / "home"),
            "--airflow-venv",
            str(fake_venv),
            "--airflow-port",
            str(port),
            env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")},
        )
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
    (home / "state.json").write_text(
        json.dumps(
            {
                "airflow": {"pid": dead.pid, "url": "http://127.0.0.1:9", "log": "a.log"},
                "basecamp": {"pid": dead.pid, "url": "http://127.0.0.1:9", "log": "b.log"},
            }
        )
    )
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


# -- with a stand-in Airflow (tests/support/devstack.py) --------------------------------------------


def dev_up(home: Path, venv: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            DLI,
            "dev",
            "up",
            "--home",
            str(home),
            "--airflow-venv",
            str(venv),
            "--user",
            "dev-test",
            "--airflow-port",
            str(free_port()),
            "--server-port",
            str(free_port()),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], *, timeout: float) -> tuple[str, str]:
    """Its output once it has exited; killed if it takes longer than ``timeout``."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # SIGKILL, so a 'dev up' stuck waiting records what stop_recorded stops
        proc.communicate()
        raise


def stop_recorded(home: Path, sessions: list[int]) -> None:
    """Leave nothing running whatever the test did."""
    for sid in {*sessions, *(entry["pid"] for entry in map(recorded(home).get, ("airflow", "basecamp")) if entry)}:
        stop_session(int(sid), grace_seconds=1)


@pytest.mark.parametrize(
    ("fake", "phase", "signum"),
    [
        pytest.param("hang", "airflow", signal.SIGINT, id="ctrl-c-while-airflow-starts"),
        pytest.param("monitor", "basecamp", signal.SIGINT, id="ctrl-c-while-basecamp-starts"),
        pytest.param("hang", "airflow", signal.SIGTERM, id="kill-while-airflow-starts"),
    ],
)
def test_interrupted_up_stops_every_process_it_started(tmp_path, fake_airflow_venv, fake, phase, signum):
    home = tmp_path / "home"
    up = dev_up(home, fake_airflow_venv, dev_env(tmp_path, FAKE_AIRFLOW=fake))
    sessions: list[int] = []
    try:
        wait_for(lambda: phase in recorded(home) and len(fake_pids(home)) == 4, what=f"{phase} recorded")
        sessions = [recorded(home)[name]["pid"] for name in ("airflow", "basecamp") if name in recorded(home)]
        pids = fake_pids(home)
        assert all(running(pid) for pid in pids)
        up.send_signal(signum)
        _out, err = finish(up, timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
        stop_recorded(home, sessions)  # after the assertions' data is taken: only a failing test needs it

    assert up.returncode == 130, err
    assert "Interrupted" in err and "Traceback" not in err
    assert [pid for pid in pids if running(pid)] == []
    assert [sid for sid in sessions if session_alive(sid)] == []
    assert "airflow" not in recorded(home) and "basecamp" not in recorded(home)
    assert dli("dev", "status", "--home", str(home)).stdout.count("stopped") == 2


def test_up_killed_outright_leaves_its_processes_recorded_for_down(tmp_path, fake_airflow_venv):
    home = tmp_path / "home"
    up = dev_up(home, fake_airflow_venv, dev_env(tmp_path, FAKE_AIRFLOW="hang"))
    try:
        wait_for(lambda: "airflow" in recorded(home) and len(fake_pids(home)) == 4, what="airflow recorded")
    finally:
        up.kill()  # SIGKILL: no clean-up possible, only what was recorded helps
        up.communicate()
    pids = fake_pids(home)
    try:
        assert stat.S_IMODE((home / "state.json").stat().st_mode) == 0o600
        status = dli("dev", "status", "--home", str(home))
        assert status.returncode == 1 and "running, not healthy" in status.stdout

        down = dli("dev", "down", "--home", str(home))
        assert down.returncode == 0 and "airflow" in down.stdout
        assert [pid for pid in pids if running(pid)] == []
        assert not (home / "state.json").exists()
    finally:
        stop_recorded(home, [pids[0]])


def test_airflow_exiting_while_starting_leaves_no_process_behind(tmp_path, fake_airflow_venv):
    home = tmp_path / "home"
    up = dev_up(home, fake_airflow_venv, dev_env(tmp_path, FAKE_AIRFLOW="exit"))
    try:
        _out, err = finish(up, timeout=60)
        pids = fake_pids(home)
        assert up.returncode == 1 and "Error [DLI-503]: Airflow exited while starting" in err
        assert len(pids) == 4 and [pid for pid in pids if running(pid)] == []  # its children stopped too
        assert "airflow" not in recorded(home)
    finally:
        stop_recorded(home, fake_pids(home)[:1])


def test_up_on_a_narrow_terminal_keeps_each_path_whole_and_last_on_its_line(tmp_path, fake_airflow_venv):
    home = tmp_path / "a-home-folder-whose-path-is-longer-than-the-terminal-is-wide"
    env = dev_env(tmp_path, FAKE_AIRFLOW="full", COLUMNS="40")
    up = dev_up(home, fake_airflow_venv, env)
    try:
        out, err = finish(up, timeout=120)
        assert up.returncode == 0, out + err
        lines = [line.strip() for line in (out + err).splitlines()]
        assert str(home / "logs" / "airflow.log") in lines and str(home / "logs" / "basecamp.log") in lines
        with_paths = [line for line in lines if str(tmp_path) in line]  # the home and the user config
        assert len(with_paths) >= 7
        assert [line for line in with_paths if not re.search(rf"{re.escape(str(tmp_path))}\S*$", line)] == []
    finally:
        dli("dev", "down", "--home", str(home), env=env)


def test_up_writes_private_files_and_down_removes_the_state_but_keeps_the_token(tmp_path, fake_airflow_venv):
    home = tmp_path / "home"
    env = dev_env(tmp_path, FAKE_AIRFLOW="full")
    first = dev_up(home, fake_airflow_venv, env)
    try:
        out, err = finish(first, timeout=120)
        assert first.returncode == 0, out + err
        pids = fake_pids(home)
        basecamp = recorded(home)["basecamp"]["pid"]
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        for private in (home / "state.json", home / "client.yaml", tmp_path / "xdg" / "dli" / "config.yaml"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        client = yaml.safe_load((home / "client.yaml").read_text())
        assert client["server"]["url"] == recorded(home)["basecamp"]["url"]
        token = client["server"]["token"]
        assert TokenFile(home / "tokens.json").authenticate(token) == "dev-test"

        down = dli("dev", "down", "--home", str(home), env=env)
        assert down.returncode == 0 and "basecamp" in down.stdout and "airflow" in down.stdout
        assert not (home / "state.json").exists()
        assert [pid for pid in [*pids, basecamp] if running(pid)] == []

        again = dev_up(home, fake_airflow_venv, env)
        out, err = finish(again, timeout=120)
        assert again.returncode == 0, out + err
        assert yaml.safe_load((home / "client.yaml").read_text())["server"]["token"] == token
        assert TokenFile(home / "tokens.json").users() == ["dev-test"]
    finally:
        dli("dev", "down", "--home", str(home), env=env)


def test_dev_commands_work_when_dli_config_names_a_file_that_does_not_exist_yet(tmp_path, fake_airflow_venv):
    # The README's tour exports DLI_CONFIG=.dli-dev/client.yaml before the first 'dli dev up':
    # 'dev up' writes that file, so no 'dev' command may refuse because it is missing.
    home = tmp_path / "home"
    config = tmp_path / "elsewhere" / "client.yaml"
    env = dev_env(tmp_path, FAKE_AIRFLOW="full", DLI_CONFIG=str(config))
    status = dli("dev", "status", "--home", str(home), env=env)
    assert status.returncode == 1 and "DLI-001" not in status.stderr, status.stderr
    assert "stopped" in status.stdout
    up = dev_up(home, fake_airflow_venv, env)
    try:
        out, err = finish(up, timeout=120)
        assert up.returncode == 0, out + err
        # The CLI reads DLI_CONFIG's file: dev up wrote it there, so 'dli workflow' talks to the stack.
        assert yaml.safe_load(config.read_text()) == yaml.safe_load((home / "client.yaml").read_text())
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert f"Client config:     {config}" in out
        assert not (tmp_path / "xdg" / "dli" / "config.yaml").exists()
        listed = dli("workflow", "list", env=env)
        assert listed.returncode == 0, listed.stderr
    finally:
        down = dli("dev", "down", "--home", str(home), env=env)
    assert down.returncode == 0 and "basecamp" in down.stdout, down.stderr


def test_dev_up_leaves_a_config_of_the_users_own_named_by_dli_config_untouched(tmp_path, fake_airflow_venv):
    home = tmp_path / "home"
    config = tmp_path / "mine.yaml"
    config.write_text("server:\n  url: http://mine:1\n")
    env = dev_env(tmp_path, FAKE_AIRFLOW="full", DLI_CONFIG=str(config))
    up = dev_up(home, fake_airflow_venv, env)
    try:
        out, err = finish(up, timeout=120)
        assert up.returncode == 0, out + err
        assert config.read_text() == "server:\n  url: http://mine:1\n"
        assert f"export DLI_CONFIG={home / 'client.yaml'}" in out
    finally:
        dli("dev", "down", "--home", str(home), env=env)
