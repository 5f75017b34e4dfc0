"""End to end: a project written for the dli we re-implement (``tests/e2e/projects/compat``) runs on
the real Airflow with its ``execution`` block: retries, retry delay and timeout on every SQL task,
the connection from ``conn_id`` or ``dialect`` (the stack maps ``sqlite`` to ``dli_local`` through
``DLI_DIALECT_CONNECTIONS``; ``trino`` has no connection there).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.stack import CONN_ID, E2EStack

PROJECT = Path(__file__).parent / "projects" / "compat"
DAY = "2025-04-01"


@pytest.fixture(scope="module")
def project(stack: E2EStack) -> Path:
    """The project, copied, with its three datasets registered (no register flags: no schedule.retry)."""
    target = stack.root / "compat-project"
    shutil.copytree(PROJECT, target)
    for name in ("compat.orders_raw", "compat.daily_revenue", "compat.trino_clicks"):
        result = stack.dli_json("workflow", "register", name, "--cron", "0 9 * * *", "--wait", project=target)
        assert result["status"] == "success", result
    return target


def _seconds(value: Any) -> float | None:
    """A REST ``TimeDelta`` (``{"__type": "TimeDelta", "days", "seconds", "microseconds"}``) in seconds."""
    if value is None:
        return None
    return dt.timedelta(
        days=value["days"], seconds=value["seconds"], microseconds=value["microseconds"]
    ).total_seconds()


def _tasks(stack: E2EStack, name: str) -> dict[str, dict[str, Any]]:
    response = stack.rest("GET", f"/api/v2/dags/{name}/tasks")
    assert response.status_code == 200, response.text
    return {t["task_id"]: t for t in response.json()["tasks"]}


def _run(stack: E2EStack, project: Path, name: str) -> dict[str, Any]:
    run_id = stack.dli_json("workflow", "run", name, "-p", f"execution_date={DAY}", project=project)["run_id"]
    return stack.wait_run(run_id, project=project)


def _rendered_conn_id(stack: E2EStack, run_id: str, task_id: str) -> str:
    name, native = run_id.split("@", 1)
    ti = stack.rest("GET", f"/api/v2/dags/{name}/dagRuns/{native}/taskInstances/{task_id}").json()
    return ti["rendered_fields"]["conn_id"]


def test_the_execution_block_sets_retries_delay_and_timeout_of_every_sql_task(stack: E2EStack, project: Path) -> None:
    tasks = _tasks(stack, "compat.orders_raw")
    sql_tasks = ["pre_1_create_table", "pre_2_clear_day", "query", "post_1_analyze"]
    assert sorted(tasks) == sorted(["dli_guard", *sql_tasks])
    for task_id in sql_tasks:
        task = tasks[task_id]
        assert task["retries"] == 3, task
        assert _seconds(task["retry_delay"]) == 60, task
        assert _seconds(task["execution_timeout"]) == 1800, task
    assert tasks["dli_guard"]["retries"] == 0


def test_a_dialect_mapped_by_the_factory_runs_on_the_mapped_connection(stack: E2EStack, project: Path) -> None:
    final = _run(stack, project, "compat.orders_raw")
    assert final["run_status"] == "COMPLETED", final
    assert stack.rows("SELECT order_id, amount FROM compat_orders_raw WHERE dt = ? ORDER BY order_id", DAY) == [
        (1, 10),
        (2, 20),
        (3, 30),
    ]
    assert _rendered_conn_id(stack, final["run_id"], "query") == CONN_ID


def test_the_specs_conn_id_is_the_connection_and_its_execution_block_applies(stack: E2EStack, project: Path) -> None:
    tasks = _tasks(stack, "compat.daily_revenue")
    assert (tasks["query"]["retries"], _seconds(tasks["query"]["retry_delay"])) == (2, 30)
    assert _seconds(tasks["query"]["execution_timeout"]) == 900
    assert _run(stack, project, "compat.orders_raw")["run_status"] == "COMPLETED"
    final = _run(stack, project, "compat.daily_revenue")
    assert final["run_status"] == "COMPLETED", final
    # {% set min_amount = 20 %} in the query file keeps the orders of 20 and 30.
    assert stack.rows("SELECT revenue, orders FROM compat_daily_revenue WHERE dt = ?", DAY) == [(50, 2)]
    assert _rendered_conn_id(stack, final["run_id"], "pre_1_create_table") == CONN_ID


def test_a_dialect_without_a_connection_fails_its_run_naming_the_connection(stack: E2EStack, project: Path) -> None:
    assert _seconds(_tasks(stack, "compat.trino_clicks")["query"]["execution_timeout"]) == 600
    final = _run(stack, project, "compat.trino_clicks")
    assert final["run_status"] == "FAILED"
    assert "trino_default" in (final["error_message"] or ""), final
    history = stack.dli_json("workflow", "history", "--dataset", "compat.trino_clicks", "--limit", "5", project=project)
    entry = next(r for r in history["runs"] if r["run_id"] == final["run_id"])
    assert entry["status"] == "FAILED" and "trino_default" in entry["error_message"]
    logs = stack.dli("workflow", "logs", final["run_id"], project=project).stdout
    assert "DLI_DIALECT_CONNECTIONS" in logs and "AIRFLOW_CONN_TRINO_DEFAULT" in logs


def test_a_required_execution_date_backfills_three_dates_in_order_with_rows_for_each(
    stack: E2EStack, project: Path
) -> None:
    """``parameters: [{name: execution_date, type: date, required: true}]``: each backfill date is the
    run's ``execution_date``, so the required parameter is never missing, and each date writes its rows."""
    dates = ["2025-01-02", "2025-01-03", "2025-01-04"]
    result = stack.dli(
        "workflow",
        "backfill",
        "compat.orders_raw",
        "-s",
        dates[0],
        "-e",
        dates[-1],
        "--wait",
        "--poll",
        "1",
        "--format",
        "json",
        project=project,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    waited = json.loads(result.stdout)
    assert waited["outcome"] == "completed"
    runs = waited["runs"]
    assert [r["run_status"] for r in runs] == ["COMPLETED"] * 3
    assert [r["run_type"] for r in runs] == ["backfill"] * 3
    assert [r["parameters"]["execution_date"] for r in runs] == dates
    assert all(a["finished_at"] <= b["started_at"] for a, b in pairwise(runs)), runs  # one after another
    rows = stack.rows(
        "SELECT dt, COUNT(*), SUM(amount) FROM compat_orders_raw WHERE dt BETWEEN ? AND ? GROUP BY dt ORDER BY dt",
        dates[0],
        dates[-1],
    )
    assert rows == [(day, 3, 60) for day in dates]
