"""End to end: the ``dli`` CLI in SERVER mode -> Basecamp -> Airflow 3 -> the dataset's SQL on SQLite.

Every scenario goes through the installed CLI (``python -m dli ... --format json``) and checks the
effect where it happens: rows in the SQLite database, DAG state in Airflow's own REST API, task
processes on this machine.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from tests.e2e.stack import E2EStack, wait_for, write_project

ORDERS = """\
name: e2e.orders
owner: e2e@example.com
team: "@e2e"
description: Rows carry the run's date and label.
parameters:
  - name: label
    type: string
    default: plain
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_orders (dt TEXT, label TEXT, run_id TEXT)
query_statement: >-
  INSERT INTO e2e_orders (dt, label, run_id) VALUES ('{{ execution_date }}', '{{ label }}', '{{ run_id }}')
"""

# Fails for 2025-03-01 only (the table does not exist), inserts a row for any other date.
FRAGILE = """\
name: e2e.fragile
owner: e2e@example.com
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_fragile (dt TEXT)
query_statement: >-
  {% if execution_date == '2025-03-01' %}INSERT INTO e2e_no_such_table VALUES (1)
  {% else %}INSERT INTO e2e_fragile (dt) VALUES ('{{ execution_date }}'){% endif %}
"""

# Burns CPU inside SQLite's C code until killed.
BURN = """\
name: e2e.burn
owner: e2e@example.com
execution:
  conn_id: dli_local
query_statement: WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c
"""

# Scheduled in Seoul at 07:30, which is 22:30 UTC the day before.
SEOUL = """\
name: e2e.seoul
owner: e2e@example.com
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_seoul (dt TEXT)
query_statement: INSERT INTO e2e_seoul (dt) VALUES ('{{ execution_date }}')
"""

# Always fails; one retry, a minute after the failed attempt.
RETRYING = """\
name: e2e.retrying
owner: e2e@example.com
execution:
  conn_id: dli_local
  retry_count: 1
  retry_delay_seconds: 60
query_statement: SELECT * FROM e2e_no_such_table
"""

MINUTELY = """\
name: e2e.minutely
owner: e2e@example.com
execution:
  conn_id: dli_local
query_statement: SELECT 1
"""


def _layered(sql_label: str, *, with_schedule: bool) -> str:
    text = f"""\
name: e2e.layered
owner: e2e@example.com
execution:
  conn_id: dli_local
pre_statements:
  - CREATE TABLE IF NOT EXISTS e2e_layered (label TEXT, run_id TEXT)
query_statement: INSERT INTO e2e_layered (label, run_id) VALUES ('{sql_label}', '{{{{ run_id }}}}')
"""
    if with_schedule:
        text += 'schedule:\n  cron: "0 9 * * *"\n  timezone: UTC\n'
    return text


@pytest.fixture(scope="module")
def project(stack: E2EStack) -> Path:
    return write_project(
        stack.root / "project",
        [ORDERS, FRAGILE, BURN, SEOUL, MINUTELY, RETRYING, _layered("manual", with_schedule=False)],
    )


@pytest.fixture(scope="module")
def minutely(stack: E2EStack, project: Path) -> str:
    """Registered first so that Airflow's scheduler fires it while the other scenarios run."""
    stack.dli_json("workflow", "register", "e2e.minutely", "--cron", "* * * * *", "--wait", project=project)
    return "e2e.minutely"


def _register(stack: E2EStack, project: Path, name: str, cron: str = "0 9 * * *", timezone: str = "UTC") -> dict:
    result = stack.dli_json("workflow", "register", name, "--cron", cron, "--tz", timezone, "--wait", project=project)
    assert result["status"] == "success"
    return result


def test_register_wait_returns_once_the_dag_is_live_in_airflow(stack: E2EStack, project: Path, minutely: str) -> None:
    _register(stack, project, "e2e.orders")
    dag = stack.dag("e2e.orders")
    assert dag is not None and dag["is_paused"] is False
    assert {t["name"] for t in dag["tags"]} >= {"dli", "source:manual"}


def test_run_with_a_parameter_completes_and_the_rows_carry_it(stack: E2EStack, project: Path) -> None:
    started = stack.dli_json("workflow", "run", "e2e.orders", "-p", "label=from-e2e", project=project)
    run_id = started["run_id"]
    assert run_id.startswith("e2e.orders@")
    final = stack.wait_run(run_id)
    assert final["run_status"] == "COMPLETED"
    assert final["parameters"] == {"label": "from-e2e"}
    native = run_id.split("@", 1)[1]
    assert stack.rows("SELECT label FROM e2e_orders WHERE run_id = ?", native) == [("from-e2e",)]


def test_backfill_runs_three_dates_in_order_with_a_row_for_each(stack: E2EStack, project: Path) -> None:
    result = stack.dli_json(
        "workflow",
        "backfill",
        "e2e.orders",
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-03",
        "-p",
        "label=bf",
        project=project,
    )
    run_ids = result["run_ids"]
    assert len(run_ids) == 3
    finals = [stack.wait_run(r) for r in run_ids]
    assert [f["run_status"] for f in finals] == ["COMPLETED"] * 3
    assert [f["run_type"] for f in finals] == ["backfill"] * 3
    assert [f["logical_date"][:10] for f in finals] == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert all(a["finished_at"] <= b["started_at"] for a, b in pairwise(finals))
    rows = stack.rows("SELECT dt, label FROM e2e_orders WHERE dt LIKE '2025-01-0%' ORDER BY dt")
    assert rows == [("2025-01-01", "bf"), ("2025-01-02", "bf"), ("2025-01-03", "bf")]


def test_backfill_dates_are_days_in_the_workflows_timezone(stack: E2EStack, project: Path) -> None:
    _register(stack, project, "e2e.seoul", cron="30 7 * * *", timezone="Asia/Seoul")
    result = stack.dli_json(
        "workflow", "backfill", "e2e.seoul", "--start", "2025-01-01", "--end", "2025-01-02", project=project
    )
    finals = [stack.wait_run(r) for r in result["run_ids"]]
    assert [f["run_status"] for f in finals] == ["COMPLETED"] * 2
    assert [f["parameters"]["execution_date"] for f in finals] == ["2025-01-01", "2025-01-02"]
    assert stack.rows("SELECT dt FROM e2e_seoul ORDER BY dt") == [("2025-01-01",), ("2025-01-02",)]


def test_failed_sql_is_failed_with_airflows_error_in_status_and_history(stack: E2EStack, project: Path) -> None:
    _register(stack, project, "e2e.fragile")
    run_id = stack.dli_json("workflow", "run", "e2e.fragile", "-p", "execution_date=2025-03-01", project=project)[
        "run_id"
    ]
    final = stack.wait_run(run_id)
    assert final["run_status"] == "FAILED"
    assert "no such table: e2e_no_such_table" in final["error_message"]
    history = stack.dli_json("workflow", "history", "--dataset", "e2e.fragile", "--limit", "10", project=project)
    entry = next(r for r in history["runs"] if r["run_id"] == run_id)
    assert entry["status"] == "FAILED" and "no such table" in entry["error_message"]
    logs = stack.dli("workflow", "logs", run_id, project=project).stdout
    assert "e2e_no_such_table" in logs


def test_a_run_waiting_for_its_retry_shows_the_attempt_the_error_and_when_the_next_is_due(
    stack: E2EStack, project: Path
) -> None:
    _register(stack, project, "e2e.retrying")
    error = "OperationalError: no such table: e2e_no_such_table"
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiter = pool.submit(
            stack.dli,
            "workflow",
            "run",
            "e2e.retrying",
            "--wait",
            "--poll",
            "2",
            project=project,
            check=False,
            timeout=400,
        )

        def waiting() -> dict | None:
            runs = stack.dli_json("workflow", "history", "-d", "e2e.retrying", "-n", "1", project=project)["runs"]
            return runs[0] if runs and runs[0]["retry"] else None

        run = wait_for(waiting, timeout=240, what="the run's wait for its retry")
        run_id, retry = run["run_id"], run["retry"]
        assert run["status"] == "RUNNING" and run["error_message"] is None
        assert (retry["attempt"], retry["max_attempts"], retry["last_error"]) == (1, 2, error)
        failed_at = dt.datetime.fromisoformat(retry["failed_at"])
        due = dt.datetime.fromisoformat(retry["next_attempt_at"])
        assert due - failed_at == dt.timedelta(seconds=60)
        lines = stack.dli("workflow", "status", run_id, project=project).stdout.splitlines()
        assert "  Status: running (waiting to retry)" in lines
        assert f"  Attempt: 1 of 2 failed at {failed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" in lines
        next_line = f"  Next attempt: 2 of 2, due {due.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC ("
        assert any(line.startswith(next_line) for line in lines), lines
        assert f"  Last error: {error}" in lines
        waited = waiter.result()
    assert waited.returncode == 3, waited.stdout + waited.stderr  # the second attempt failed too
    notices = [line for line in waited.stderr.splitlines() if line.startswith(f"{run_id}: ")]
    assert len(notices) == 1, waited.stderr
    assert notices[0].startswith(f"{run_id}: attempt 1 of 2 failed: {error}; next attempt 2 of 2, due")
    final = stack.wait_run(run_id, project=project)
    assert final["run_status"] == "FAILED" and final["retry"] is None
    assert error in final["error_message"]


def test_backfill_stops_after_the_failing_date(stack: E2EStack, project: Path) -> None:
    result = stack.dli_json(
        "workflow", "backfill", "e2e.fragile", "--start", "2025-03-01", "--end", "2025-03-03", project=project
    )
    finals = [stack.wait_run(r) for r in result["run_ids"]]
    assert [f["run_status"] for f in finals] == ["FAILED", "KILLED", "KILLED"]
    assert "no such table" in finals[0]["error_message"]
    assert all(f["started_at"] is None for f in finals[1:])
    assert all("stopped after 2025-03-01 failed" in f["error_message"] for f in finals[1:])
    assert stack.rows("SELECT dt FROM e2e_fragile WHERE dt IN ('2025-03-02', '2025-03-03')") == []
    history = stack.dli_json("workflow", "history", "--dataset", "e2e.fragile", "--status", "killed", project=project)
    assert set(result["run_ids"][1:]) <= {r["run_id"] for r in history["runs"]}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def test_stop_kills_a_long_running_run_and_its_task_process(stack: E2EStack, project: Path) -> None:
    # A cron that does not fire while the tests run: a scheduled run would burn a CPU until the stack stops.
    _register(stack, project, "e2e.burn", cron="0 6 1 1 *")
    run_id = stack.dli_json("workflow", "run", "e2e.burn", project=project)["run_id"]
    native = run_id.split("@", 1)[1]

    def running_pid() -> int | None:
        ti = stack.rest("GET", f"/api/v2/dags/e2e.burn/dagRuns/{native}/taskInstances/query").json()
        return ti.get("pid") if ti.get("state") == "running" and ti.get("pid") else None

    pid = wait_for(running_pid, timeout=180, what="the burning task running")
    assert _alive(pid)
    assert stack.dli_json("workflow", "status", run_id, project=project)["run_status"] == "RUNNING"
    stopped = stack.dli_json("workflow", "stop", run_id, project=project)
    assert stopped["run_status"] == "KILLED"
    assert stack.dli_json("workflow", "status", run_id, project=project)["run_status"] == "KILLED"
    wait_for(lambda: not _alive(pid), timeout=90, what=f"task process {pid} gone")
    again = stack.dli("workflow", "stop", run_id, project=project, check=False)
    assert again.returncode != 0 and "DLI-807" in again.stdout + again.stderr


def test_pause_and_unpause_change_the_dag_in_airflow(stack: E2EStack, project: Path) -> None:
    stack.dli_json("workflow", "pause", "e2e.orders", project=project)
    assert stack.dag("e2e.orders")["is_paused"] is True
    listed = stack.dli_json("workflow", "list", "--dataset", "e2e.orders", project=project)["workflows"]
    assert [w["status"] for w in listed] == ["paused"]
    stack.dli_json("workflow", "unpause", "e2e.orders", project=project)
    assert stack.dag("e2e.orders")["is_paused"] is False


def test_a_broken_stored_spec_breaks_only_its_own_dag(stack: E2EStack) -> None:
    (stack.store_dir / "manual" / "e2e.broken.yaml").write_text("name: e2e.broken\nquery_statement: [unclosed\n")
    dag = wait_for(lambda: stack.dag("e2e.broken"), timeout=60, what="the broken placeholder DAG")
    assert "dli:broken" in {t["name"] for t in dag["tags"]} and dag["is_paused"] is True
    live = stack.rest("GET", "/api/v2/dags/e2e.orders").status_code
    assert live == 200
    import httpx

    state = httpx.get(
        f"{stack.basecamp.url}/api/v1/workflows/e2e.broken/live",
        headers={"Authorization": f"Bearer {stack.basecamp.token}"},
        timeout=60,
    ).json()
    assert state["visible"] is True and "invalid YAML" in state["error"]
    (stack.store_dir / "manual" / "e2e.broken.yaml").unlink()


def test_publish_overrides_a_manual_workflow_and_prune_brings_it_back(stack: E2EStack, project: Path) -> None:
    _register(stack, project, "e2e.layered")
    code_project = write_project(stack.root / "code-project", [_layered("code", with_schedule=True)])
    stack.dli("workflow", "publish", "--path", str(code_project), "--store", stack.store_url)

    def layered() -> set[tuple[str, str]]:
        listed = stack.dli_json("workflow", "list", "--dataset", "e2e.layered", project=project)["workflows"]
        return {(w["source_type"], w["status"]) for w in listed}

    # The server re-reads the store every --check-interval (1 s here).
    wait_for(lambda: layered() == {("code", "active"), ("manual", "overridden")}, timeout=30, what="manual overridden")
    wait_for(
        lambda: "source:code" in {t["name"] for t in stack.dag("e2e.layered")["tags"]}, timeout=60, what="code DAG"
    )
    run_id = stack.dli_json("workflow", "run", "e2e.layered", project=project)["run_id"]
    assert stack.wait_run(run_id)["run_status"] == "COMPLETED"
    native = run_id.split("@", 1)[1]
    assert stack.rows("SELECT label FROM e2e_layered WHERE run_id = ?", native) == [("code",)]

    empty = write_project(stack.root / "empty-project", [])
    stack.dli("workflow", "publish", "--path", str(empty), "--store", stack.store_url, "--prune")
    wait_for(lambda: layered() == {("manual", "active")}, timeout=30, what="manual active again")
    wait_for(
        lambda: "source:manual" in {t["name"] for t in stack.dag("e2e.layered")["tags"]}, timeout=60, what="manual DAG"
    )
    run_id = stack.dli_json("workflow", "run", "e2e.layered", project=project)["run_id"]
    assert stack.wait_run(run_id)["run_status"] == "COMPLETED"
    assert stack.rows("SELECT label FROM e2e_layered WHERE run_id = ?", run_id.split("@", 1)[1]) == [("manual",)]


def test_history_lists_scheduled_adhoc_and_backfill_runs_with_their_types(
    stack: E2EStack, project: Path, minutely: str
) -> None:
    def scheduled() -> list[dict]:
        runs = stack.dli_json("workflow", "history", "--dataset", minutely, "--limit", "5", project=project)["runs"]
        return [r for r in runs if r["run_type"] == "scheduled"]

    # Registered at the start of the module with '* * * * *': Airflow's scheduler fires it each minute.
    runs = wait_for(scheduled, timeout=180, interval=5, what="a scheduled run")
    assert runs[0]["run_id"].startswith(f"{minutely}@scheduled__")
    history = stack.dli_json("workflow", "history", "--limit", "200", project=project)
    types = {r["run_type"] for r in history["runs"]}
    assert {"scheduled", "adhoc", "backfill"} <= types
    assert history["total_count"] >= len(history["runs"])
    stack.dli_json("workflow", "pause", minutely, project=project)


def test_local_mode_runs_the_use_cases_in_process_against_airflow(stack: E2EStack, project: Path) -> None:
    env = {"DLI_STORE_URL": stack.store_url, "DLI_AIRFLOW_URL": stack.airflow.base_url, **stack.airflow_env()}
    run_id = stack.dli_json(
        "workflow", "run", "e2e.orders", "-p", "label=local", mode="local", env=env, project=project
    )["run_id"]
    deadline = time.monotonic() + 240
    while (status := stack.dli_json("workflow", "status", run_id, mode="local", env=env, project=project))[
        "run_status"
    ] not in (
        "COMPLETED",
        "FAILED",
        "KILLED",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(1)
    assert status["run_status"] == "COMPLETED"
    assert stack.rows("SELECT label FROM e2e_orders WHERE run_id = ?", run_id.split("@", 1)[1]) == [("local",)]
    assert os.environ.get("DLI_AIRFLOW_PASSWORD") is None  # nothing leaked into the test process
