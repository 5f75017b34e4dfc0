"""dli.yaml: what dli reads is checked, what other tools own is ignored, near-misses are warned."""

import pytest

from dli.adapters.project_config import DEFAULT_PATTERNS, read_project_config
from dli.domain.model.errors import ConfigurationError, SpecInvalidError

# The upstream dli's sample project file, as it is in ../shared/corpus/upstream_sample.
UPSTREAM = """\
version: "1"
project:
  name: "test-project"
  description: "Test Project for DLI Core Engine"
discovery:
  datasets_dir: "datasets"
  metrics_dir: "metrics"
  metric_patterns:
    - "metric.*.yaml"
    - "metric.yaml"
  dataset_patterns:
    - "dataset.*.yaml"
    - "dataset.yaml"
defaults:
  dialect: "trino"
  timeout_seconds: 3600
  retry_count: 2
environments:
  dev:
    connection_string: "trino://localhost:8080/iceberg"
server:
  url: "http://localhost:8081"
  timeout: 30
"""


def project(tmp_path, text, *folders):
    (tmp_path / "dli.yaml").write_text(text)
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    return tmp_path


def test_an_upstream_dli_project_file_is_read_for_what_dli_uses_without_a_warning(tmp_path):
    config = read_project_config(project(tmp_path, UPSTREAM, "datasets", "metrics"))
    assert config.datasets_dir == tmp_path / "datasets"
    assert config.dataset_patterns == ("dataset.*.yaml", "dataset.yaml")
    assert config.defaults == {"dialect": "trino", "timeout_seconds": 3600, "retry_count": 2}
    assert config.server_url == "http://localhost:8081"
    assert config.warnings == () and config.server_warnings == ()


@pytest.mark.parametrize(
    "text",
    [
        "owner_team: x\nplugins: [a, b]\n",  # top level
        "discovery: {metrics_dir: m, sources: {nested: [1, 2]}}\n",  # inside a section dli reads
        "defaults: {engine: spark, catalog: {name: x}}\n",
        "server: {timeout: 30, api_key: k, tls: {verify: false}}\n",
        "environments: {dev: {server: {url: 3}, defaults: [x]}}\n",  # dli's key names under another tool's
    ],
)
def test_keys_dli_does_not_use_are_accepted_and_ignored_at_any_level(tmp_path, text):
    config = read_project_config(project(tmp_path, text))
    assert config.datasets_dir == tmp_path and config.dataset_patterns == DEFAULT_PATTERNS
    assert config.defaults == {} and config.server_url is None
    assert config.warnings == () and config.server_warnings == ()


@pytest.mark.parametrize(
    ("text", "error", "needle"),
    [
        ("discovery: [x]", SpecInvalidError, "discovery: expected a mapping"),
        ("discovery: {datasets_dir: 3}", SpecInvalidError, "discovery.datasets_dir: expected a folder name, got 3"),
        (
            "discovery: {dataset_patterns: dataset.*.yaml}",
            SpecInvalidError,
            "discovery.dataset_patterns: expected a non-empty list",
        ),
        ("defaults: trino", SpecInvalidError, "defaults: expected a mapping"),
        ("defaults: {retry_count: two}", SpecInvalidError, "defaults.retry_count: must be an integer"),
        ("defaults: {dialect: 3}", SpecInvalidError, "defaults.dialect: must be a name"),
        ("server: http://x", ConfigurationError, "'server' must be a mapping"),
        ("server: {url: 3}", ConfigurationError, "'url' must be a non-empty string"),
        ("[1, 2]", SpecInvalidError, "expected a mapping at the top level"),
    ],
)
def test_keys_dli_uses_are_still_type_checked_naming_the_key(tmp_path, text, error, needle):
    with pytest.raises(error) as exc:
        read_project_config(project(tmp_path, text + "\n"))
    assert str(tmp_path / "dli.yaml") in exc.value.message and needle in exc.value.message


def test_other_keys_of_defaults_are_not_copied_into_specs(tmp_path):
    config = read_project_config(project(tmp_path, "defaults: {dialect: trino, engine: spark, conn_id: wh}\n"))
    assert config.defaults == {"dialect": "trino", "conn_id": "wh"}


@pytest.mark.parametrize(
    ("text", "where", "key", "meant"),
    [
        ("defualts: {dialect: trino}", "", "defualts", "defaults"),
        ("discovery: {dataset_pattern: [d.yaml]}", ": discovery", "dataset_pattern", "dataset_patterns"),
        ("discovery: {datasets_dirs: datasets}", ": discovery", "datasets_dirs", "datasets_dir"),
        ("defaults: {retry_counts: 2}", ": defaults", "retry_counts", "retry_count"),
    ],
)
def test_a_near_miss_of_a_key_dli_uses_is_warned_naming_the_right_key_and_ignored(tmp_path, text, where, key, meant):
    config = read_project_config(project(tmp_path, text + "\n"))
    assert config.warnings == (
        f"{tmp_path / 'dli.yaml'}{where}: '{key}' is not a key dli uses and is ignored; did you mean '{meant}'?",
    )
    # Ignored, not guessed: the setting does not take effect.
    assert config.datasets_dir == tmp_path and config.dataset_patterns == DEFAULT_PATTERNS
    assert config.defaults == {}


def test_near_misses_about_the_server_section_are_kept_apart_for_the_cli_settings(tmp_path):
    config = read_project_config(project(tmp_path, "sever: {url: http://x}\nserver: {urls: http://y, token: t}\n"))
    assert config.warnings == ()
    assert [w.split(": ")[-1] for w in config.server_warnings[:2]] == [
        "'sever' is not a key dli uses and is ignored; did you mean 'server'?",
        "'urls' is not a key dli uses and is ignored; did you mean 'url'?",
    ]
    assert "'server.token' is ignored" in config.server_warnings[2]
    assert config.server_url is None
