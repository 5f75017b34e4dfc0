"""Near-misses found reading the project reach the CLI user on stderr; other tools' keys say nothing."""

from __future__ import annotations

import pytest

DLI_YAML = "discovery: {datasets_dir: specs, dataset_pattern: ['x.yaml'], metrics_dir: metrics}\nenvironments: {}\n"
SPEC = "query_statement: SELECT 1\ndepend_on: [shop.raw]\nschedule: {cron: '0 6 * * *'}\ntype: Dataset\n"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "metrics").mkdir()
    (tmp_path / "dli.yaml").write_text(DLI_YAML)
    (tmp_path / "specs" / "dataset.shop.daily.yaml").write_text(SPEC)
    (tmp_path / "metrics" / "metric.shop.daily.yaml").write_text("name: shop.daily\n")
    return tmp_path


@pytest.fixture(autouse=True)
def local_memory(monkeypatch):
    monkeypatch.setenv("DLI_MODE", "local")
    monkeypatch.setenv("DLI_STORE_URL", "memory://")
    monkeypatch.setenv("DLI_AIRFLOW_URL", "memory://")


def _warned(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


def assert_both_near_misses_warned(stderr: str) -> None:
    text = "\n".join(_warned(stderr))
    assert "'dataset_pattern' is not a key dli uses and is ignored; did you mean 'dataset_patterns'?" in text
    assert (
        "dataset.shop.daily.yaml: 'depend_on' is not a key dli uses and is ignored; did you mean 'depends_on'?" in text
    )
    assert "metrics_dir" not in text and "environments" not in text and "'type'" not in text


def test_register_warns_about_near_misses_in_dli_yaml_and_the_spec(cli, project):
    result = cli.fresh("workflow", "register", "shop.daily", "-c", "0 6 * * *", "--path", str(project))
    assert result.exit_code == 0, result.stderr
    assert "Workflow registered: shop.daily" in result.stdout
    assert_both_near_misses_warned(result.stderr)


def test_register_dry_run_warns_about_them_too_in_table_and_json(cli, project):
    result = cli.fresh("workflow", "register", "shop.daily", "-c", "0 6 * * *", "--dry-run", "--path", str(project))
    assert result.exit_code == 0, result.stderr
    assert_both_near_misses_warned(result.stderr)
    data = cli.fresh(
        "workflow", "register", "shop.daily", "-c", "0 6 * * *", "--dry-run", "--format", "json", "--path", str(project)
    ).json()
    assert any("did you mean 'depends_on'" in w for w in data["warnings"])


def test_publish_warns_about_them(cli, project, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    result = cli.fresh("workflow", "publish", "--path", str(project), "--store", store.as_uri())
    assert result.exit_code == 0, result.stderr
    assert "1 created" in result.stdout
    assert_both_near_misses_warned(result.stderr)


def test_a_project_without_near_misses_registers_without_a_warning_about_keys(cli, project):
    (project / "dli.yaml").write_text("discovery: {datasets_dir: specs, metrics_dir: metrics}\nproject: {name: p}\n")
    (project / "specs" / "dataset.shop.daily.yaml").write_text(SPEC.replace("depend_on", "depends_on"))
    result = cli.fresh("workflow", "register", "shop.daily", "-c", "0 6 * * *", "--path", str(project))
    assert result.exit_code == 0, result.stderr
    assert all("did you mean" not in w for w in _warned(result.stderr))
