"""``dli workflow pause`` and ``unpause``."""

from __future__ import annotations


def _status(cli, name, source):  # type: ignore[no-untyped-def]
    data = cli("workflow", "list", "-s", source, "-d", name, "-f", "json").json()
    return [w["status"] for w in data["workflows"] if w["dataset_name"] == name][0]


def test_pause_then_unpause_a_manual_workflow(cli):
    name = "iceberg.analytics.ad_hoc_report"
    paused = cli("workflow", "pause", name)
    assert paused.exit_code == 0 and "paused" in paused.stdout.lower()
    assert _status(cli, name, "manual") == "paused"
    resumed = cli("workflow", "unpause", name)
    assert resumed.exit_code == 0
    assert _status(cli, name, "manual") == "active"


def test_pause_is_allowed_on_code_workflows(cli):
    result = cli("workflow", "pause", "iceberg.analytics.daily_clicks", "--source", "code")
    assert result.exit_code == 0
    assert _status(cli, "iceberg.analytics.daily_clicks", "code") == "paused"


def test_pausing_a_paused_workflow_is_dli_807_exit_1(cli):
    result = cli("workflow", "pause", "iceberg.analytics.user_metrics")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [DLI-807]")


def test_unpausing_an_overridden_manual_workflow_is_dli_806(cli):
    result = cli("workflow", "unpause", "iceberg.analytics.daily_clicks", "--source", "manual")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [DLI-806]")


def test_unknown_workflow_is_dli_800(cli):
    result = cli("workflow", "pause", "no.such.dataset")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [DLI-800]")


def test_invalid_source_is_a_usage_error(cli):
    assert cli("workflow", "pause", "iceberg.analytics.ad_hoc_report", "--source", "all").exit_code == 2


def test_json_output(cli):
    data = cli("workflow", "pause", "iceberg.analytics.ad_hoc_report", "--format", "json").json()
    assert data["status"] == "success" and data["dataset_name"] == "iceberg.analytics.ad_hoc_report"
