"""DevStack's files and token, without starting anything (starting is in tests/integration/devstack)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from dli.adapters.token_file import TokenFile
from dli.domain.model.errors import ConfigurationError, ErrorCode, ServerError
from dli.entrypoints.devstack import stack as stack_module
from dli.entrypoints.devstack.stack import CONFIG_MARKER, DevStack, dev_token


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the token ------------------------------------------------------------------------------------


def test_dev_token_reuses_a_known_token_the_file_accepts_for_the_user(tmp_path):
    tokens = tmp_path / "tokens.json"
    first = dev_token(tokens, "alice")
    assert dev_token(tokens, "alice", known=[None, "bc_unknown", first]) == first
    assert TokenFile(tokens).users() == ["alice"]


def test_dev_token_issues_a_new_token_when_no_known_one_belongs_to_the_user(tmp_path):
    tokens = tmp_path / "tokens.json"
    bobs = dev_token(tokens, "bob")
    alices = dev_token(tokens, "alice", known=[bobs, "not-a-token"])
    assert alices != bobs
    assert TokenFile(tokens).authenticate(alices) == "alice"
    assert mode(tokens) == 0o600


def test_dev_token_refuses_an_invalid_user_name_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigurationError) as exc:
        dev_token(tmp_path / "tokens.json", "not a name")
    assert exc.value.code is ErrorCode.CONFIG_INVALID and exc.value.hints
    assert not (tmp_path / "tokens.json").exists()


def test_up_with_an_invalid_user_fails_before_starting_anything(tmp_path, monkeypatch):
    def spawn(*_args, **_kwargs):
        raise AssertionError("nothing may start")

    monkeypatch.setattr(stack_module, "spawn_detached", spawn)
    with pytest.raises(ConfigurationError):
        DevStack(tmp_path / "home", user="not a name").up(airflow_venv=tmp_path / "venv")


# -- private files --------------------------------------------------------------------------------


def test_state_is_written_owner_only_even_over_a_world_readable_file(tmp_path):
    dev = DevStack(tmp_path / "home")
    dev.home.mkdir()
    dev.state_file.write_text("{}")
    dev.state_file.chmod(0o644)
    dev._save({"token_for": {"dev": "bc_secret"}})
    assert mode(dev.state_file) == 0o600
    assert json.loads(dev.state_file.read_text()) == {"token_for": {"dev": "bc_secret"}}
    assert sorted(p.name for p in dev.home.iterdir()) == ["state.json"]  # no temporary file left


def test_home_folder_is_created_owner_only(tmp_path):
    dev = DevStack(tmp_path / "home")
    dev._save({})
    assert mode(dev.home) == 0o700


def test_client_config_is_yaml_that_reads_back_whatever_the_values_hold(tmp_path):
    dev = DevStack(tmp_path / "home")
    dev.home.mkdir()
    dev.client_config.write_text("old")
    dev.client_config.chmod(0o644)
    tricky = "bc_x: #not-a-comment\n  token: injected"
    dev._write_client_config("http://127.0.0.1:8081", tricky)
    text = dev.client_config.read_text()
    assert text.startswith(f"{CONFIG_MARKER} ({dev.home})\n")
    assert yaml.safe_load(text) == {"mode": "server", "server": {"url": "http://127.0.0.1:8081", "token": tricky}}
    assert mode(dev.client_config) == 0o600


# -- down -----------------------------------------------------------------------------------------


def test_down_removes_the_state_file(tmp_path):
    dev = DevStack(tmp_path / "home")
    dev._save({"token_for": {"dev": "bc_secret"}, "airflow": {"pid": 2**22 + 1, "url": "http://127.0.0.1:9"}})
    assert dev.down() == []
    assert not dev.state_file.exists()


def test_down_keeps_recording_what_it_could_not_stop(tmp_path, monkeypatch):
    monkeypatch.setattr(stack_module, "session_alive", lambda _sid: True)
    monkeypatch.setattr(stack_module, "stop_session", lambda sid, **_kw: sid != 4242)
    dev = DevStack(tmp_path / "home")
    dev._save({"airflow": {"pid": 4242}, "basecamp": {"pid": 4343}})
    with pytest.raises(ServerError) as exc:
        dev.down()
    assert exc.value.code is ErrorCode.SERVER_ERROR and "airflow" in exc.value.message
    assert set(json.loads(dev.state_file.read_text())) == {"airflow"}


# -- connections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "execution",
    [{}, {"conn_id": "dli_local"}, {"dialect": "sqlite"}, {"dialect": "SQLite"}],
    ids=["nothing", "conn_id dli_local", "dialect sqlite", "dialect SQLite"],
)
def test_every_spec_meant_for_the_local_database_finds_a_connection_airflow_has(tmp_path, monkeypatch, execution):
    from dli.domain.model.execution import execution_settings
    from dli.entrypoints.airflow.connections import connection_for, dialect_connections
    from tests.support.specs import make_spec

    monkeypatch.setenv("DLI_DIALECT_CONNECTIONS", '{"trino": "trino_prod"}')  # a user's own map is kept
    stack = DevStack(tmp_path / "home")
    env = stack._airflow_env(tmp_path / "venv", 8080)
    conn_id = connection_for(execution_settings(make_spec(execution=execution)), dialect_connections(env)).conn_id
    defined = env.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    assert defined is not None, f"{conn_id} is not defined for Airflow"
    assert json.loads(defined) == {"conn_type": "sqlite", "host": str(stack.database)}


# -- Airflow's configuration ----------------------------------------------------------------------


def test_airflows_sqlite_database_is_write_ahead_logged_before_airflow_creates_it(tmp_path):
    import sqlite3

    database = tmp_path / "home" / "airflow" / "airflow.db"
    stack_module._write_ahead_logged(database)
    # The mode is kept in the file: every Airflow process that opens it later reads without blocking writes.
    assert sqlite3.connect(database).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_airflow_log_servers_leave_the_default_ports_to_another_airflow_on_the_machine(tmp_path):
    env = DevStack(tmp_path / "home")._airflow_env(tmp_path / "venv", 8080)
    ports = {
        int(env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"]),
        int(env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]),
    }
    assert len(ports) == 2 and not ports & {8793, 8794, 8080}
