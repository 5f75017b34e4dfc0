"""Settings resolution: flags > environment > project dli.yaml > user config file > defaults."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from dli.adapters.config_file import read_user_config
from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.api import WorkflowAPI
from dli.entrypoints.bootstrap import read_project_server
from dli.entrypoints.cli.settings import Flags, resolve_context, user_config_path
from dli.entrypoints.context import DEFAULT_SERVER_URL, ExecutionMode


@pytest.fixture
def user_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("")
    return path


def _env(user_config: Path, **values: str) -> dict[str, str]:
    return {"DLI_CONFIG": str(user_config), **values}


def test_defaults_are_server_mode_on_localhost_8081(user_config, isolated_env):
    resolved = resolve_context(Flags(), _env(user_config))
    assert resolved.context.execution_mode is ExecutionMode.SERVER
    assert resolved.context.server_url == DEFAULT_SERVER_URL == "http://localhost:8081"
    assert resolved.context.api_token is None
    assert resolved.context.project_path == isolated_env


def test_flag_beats_environment_beats_files(user_config, isolated_env):
    user_config.write_text("mode: local\nserver:\n  url: http://user-config:1\n")
    (isolated_env / "dli.yaml").write_text("server:\n  url: http://project:2\n")
    env = _env(user_config, DLI_MODE="server", DLI_SERVER_URL="http://env:3")
    assert resolve_context(Flags(mode="server", server_url="http://flag:4"), env).context.server_url == "http://flag:4"
    assert resolve_context(Flags(), env).context.server_url == "http://env:3"
    env.pop("DLI_SERVER_URL")
    assert resolve_context(Flags(), env).context.server_url == "http://project:2"
    (isolated_env / "dli.yaml").unlink()
    assert resolve_context(Flags(), env).context.server_url == "http://user-config:1"


def test_mode_comes_from_flag_then_environment_then_user_config(user_config):
    user_config.write_text("mode: mock\n")
    assert resolve_context(Flags(), _env(user_config)).context.execution_mode is ExecutionMode.MOCK
    env = _env(user_config, DLI_MODE="server")
    assert resolve_context(Flags(), env).context.execution_mode is ExecutionMode.SERVER
    assert resolve_context(Flags(mode="mock"), env).context.execution_mode is ExecutionMode.MOCK


def test_token_comes_from_environment_before_user_config(user_config):
    user_config.write_text("server:\n  token: from-file\n")
    assert resolve_context(Flags(), _env(user_config)).context.api_token == "from-file"
    env = _env(user_config, DLI_API_TOKEN="from-env")
    assert resolve_context(Flags(), env).context.api_token == "from-env"


def test_token_in_project_file_is_ignored_with_a_warning(user_config, isolated_env):
    (isolated_env / "dli.yaml").write_text("server:\n  url: http://project:2\n  token: committed-secret\n")
    resolved = resolve_context(Flags(), _env(user_config))
    assert resolved.context.api_token is None
    assert resolved.context.server_url == "http://project:2"
    assert len(resolved.warnings) == 1 and "server.token" in resolved.warnings[0]
    assert "committed-secret" not in resolved.warnings[0]


def test_project_warning_is_printed_on_stderr_by_the_cli(cli, isolated_env, monkeypatch):
    (isolated_env / "dli.yaml").write_text("server:\n  token: committed-secret\n")
    monkeypatch.setenv("DLI_MODE", "server")
    result = cli("workflow", "list", factory=lambda ctx: WorkflowAPI(attrs.evolve(ctx, execution_mode="mock")))
    assert result.exit_code == 0
    assert "Warning:" in result.stderr and "server.token" in result.stderr
    assert "committed-secret" not in result.output


def test_local_mode_settings_come_from_environment_then_user_config(user_config):
    user_config.write_text(
        "local:\n  store_url: file:///srv/specs\n  airflow_url: http://af:8080\n"
        "  airflow_username: admin\n  airflow_password: file-pw\n"
    )
    ctx = resolve_context(Flags(mode="local"), _env(user_config)).context
    assert (ctx.store_url, ctx.airflow_url, ctx.airflow_username, ctx.airflow_password) == (
        "file:///srv/specs",
        "http://af:8080",
        "admin",
        "file-pw",
    )
    env = _env(
        user_config,
        DLI_STORE_URL="s3://bucket/p",
        DLI_AIRFLOW_URL="http://other:8080",
        DLI_AIRFLOW_USERNAME="bob",
        DLI_AIRFLOW_PASSWORD="env-pw",
    )
    ctx = resolve_context(Flags(mode="local"), env).context
    assert (ctx.store_url, ctx.airflow_url, ctx.airflow_username, ctx.airflow_password) == (
        "s3://bucket/p",
        "http://other:8080",
        "bob",
        "env-pw",
    )
    assert "env-pw" not in repr(ctx)


def test_mock_mode_reads_no_file(user_config, isolated_env):
    user_config.write_text(": not yaml [")
    (isolated_env / "dli.yaml").write_text(": not yaml [")
    resolved = resolve_context(Flags(mode="mock"), _env(user_config))
    assert resolved.context.execution_mode is ExecutionMode.MOCK


def test_user_config_timeout_applies(user_config):
    user_config.write_text("timeout_seconds: 5\n")
    assert resolve_context(Flags(), _env(user_config)).context.timeout_seconds == 5.0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sever:\n  url: x\n", "unknown key(s) sever"),
        ("server:\n  uri: x\n", "unknown key(s) uri"),
        ("server: http://x\n", "'server' must be a mapping"),
        ("mode: 3\n", "'mode' must be a non-empty string"),
        ("- a\n- b\n", "expected a mapping"),
        ("a: [\n", "not valid YAML"),
        ("timeout_seconds: -1\n", "'timeout_seconds' must be a positive number"),
    ],
)
def test_malformed_user_config_is_dli_001(user_config, text, fragment):
    user_config.write_text(text)
    with pytest.raises(ConfigurationError, match=None) as info:
        resolve_context(Flags(), _env(user_config))
    assert fragment in info.value.message


def test_malformed_user_config_exits_2_through_the_cli(cli, tmp_path, monkeypatch):
    config = tmp_path / "bad.yaml"
    config.write_text("sever: x\n")
    monkeypatch.setenv("DLI_CONFIG", str(config))
    monkeypatch.delenv("DLI_MODE")
    result = cli("workflow", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error [DLI-001]:")


def test_invalid_mode_in_user_config_names_the_file(user_config):
    user_config.write_text("mode: cloud\n")
    with pytest.raises(ConfigurationError) as info:
        resolve_context(Flags(), _env(user_config))
    assert str(user_config) in info.value.message


def test_path_that_is_not_a_directory_is_dli_001(tmp_path):
    with pytest.raises(ConfigurationError):
        resolve_context(Flags(mode="mock", project_path=tmp_path / "missing"), {})


def test_user_config_path_defaults_to_xdg_then_home(tmp_path):
    assert user_config_path({"DLI_CONFIG": "/x/c.yaml"}) == Path("/x/c.yaml")
    assert user_config_path({"XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/dli/config.yaml")
    assert user_config_path({}) == Path("~/.config/dli/config.yaml").expanduser()


def test_missing_or_empty_files_are_empty_configurations(tmp_path):
    assert read_user_config(tmp_path / "none.yaml").server_url is None
    (tmp_path / "empty.yaml").write_text("")
    assert read_user_config(tmp_path / "empty.yaml").mode is None
    assert read_project_server(tmp_path).server_url is None
    (tmp_path / "dli.yaml").write_text("name: my-project\n")
    assert read_project_server(tmp_path).server_url is None


def test_config_values_repr_hides_secrets(user_config):
    user_config.write_text("server:\n  token: s3cret\nlocal:\n  airflow_password: pw123\n")
    values = read_user_config(user_config)
    assert values.api_token == "s3cret"
    assert "s3cret" not in repr(values) and "pw123" not in repr(values)


def test_dli_config_naming_a_missing_file_is_dli_001(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DLI_CONFIG", str(tmp_path / "gone.yaml"))
    monkeypatch.delenv("DLI_MODE")  # the mode is then looked up in the user config
    result = cli("workflow", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error [DLI-001]: DLI_CONFIG points at {tmp_path / 'gone.yaml'}, which does not exist"
    )


def test_an_upstream_dli_yaml_gives_its_server_url_and_its_other_keys_are_ignored(user_config, isolated_env):
    (isolated_env / "dli.yaml").write_text(
        "version: '1'\nproject: {name: p}\ndiscovery: {metrics_dir: m, metric_patterns: [metric.yaml]}\n"
        "environments: {dev: {connection_string: 'trino://x'}}\nserver: {url: 'http://project:2', timeout: 30}\n"
    )
    resolved = resolve_context(Flags(), _env(user_config))
    assert resolved.context.server_url == "http://project:2"
    assert resolved.warnings == ()


def test_a_misspelt_server_key_is_warned_on_stderr_naming_the_right_key(cli, isolated_env, monkeypatch):
    (isolated_env / "dli.yaml").write_text("server:\n  urls: http://project:2\n")
    monkeypatch.setenv("DLI_MODE", "server")
    result = cli("workflow", "list", factory=lambda ctx: WorkflowAPI(attrs.evolve(ctx, execution_mode="mock")))
    assert result.exit_code == 0
    assert (
        "Warning:" in result.stderr
        and "'urls' is not a key dli uses and is ignored; did you mean 'url'?" in result.stderr
    )
