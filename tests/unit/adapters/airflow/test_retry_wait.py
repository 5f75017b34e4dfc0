"""A run waiting for a retry, as Airflow 3 reports it: decoded from responses captured from a real
Airflow 3.3.2 (``responses/up_for_retry.json``), and the requests the adapter makes to read it."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dli.adapters.airflow.runs import retry_wait, timedelta_of
from dli.domain.model.enums import RunStatus
from dli.domain.model.workflow_runs import RetryWait
from dli.ports.orchestrator import RunQuery
from tests.unit.adapters.airflow.scripted import ScriptedAirflow, body

CAPTURED: dict[str, Any] = json.loads((Path(__file__).parent / "responses" / "up_for_retry.json").read_text())
RUN = CAPTURED["dag_run"]
TI = CAPTURED["task_instances_list"]["task_instances"][0]
TASK = CAPTURED["task"]
DAG, NATIVE = RUN["dag_id"], RUN["dag_run_id"]
RUN_ID = f"{DAG}@{NATIVE}"
FAILED_AT = dt.datetime(2026, 12, 7, 18, 50, 27, 219033, tzinfo=dt.UTC)
ERROR = "OperationalError: no such table: capture_no_such_table"


# -- decoding -------------------------------------------------------------------------------------


def test_an_up_for_retry_task_instance_is_the_failed_attempt_of_all_and_the_next_due_after_the_delay() -> None:
    wait = retry_wait(TI, TASK, ERROR)
    assert wait == RetryWait(
        attempt=1,
        max_attempts=2,  # max_tries is the retries: 1 retry, 2 attempts
        last_error=ERROR,
        failed_at=FAILED_AT,
        next_attempt_at=FAILED_AT + dt.timedelta(seconds=60),
    )


@pytest.mark.parametrize("state", ["running", "failed", "success", "queued", "scheduled", None])
def test_a_task_instance_in_any_other_state_is_no_retry_wait(state) -> None:
    assert retry_wait({**TI, "state": state}, TASK, ERROR) is None


def test_the_due_time_is_unknown_without_the_tasks_delay_or_with_an_exponential_backoff() -> None:
    assert retry_wait(TI, None, ERROR).next_attempt_at is None
    assert retry_wait(TI, {**TASK, "retry_exponential_backoff": 2.0}, ERROR).next_attempt_at is None
    no_end = retry_wait({**TI, "end_date": None}, TASK, ERROR)
    assert no_end.failed_at is None and no_end.next_attempt_at is None


def test_a_cleared_task_counts_its_attempts_on_from_its_raised_max_tries() -> None:
    # Clearing a task that used its 2 attempts gives it max_tries = try_number + retries.
    wait = retry_wait({**TI, "try_number": 3, "max_tries": 3}, TASK, None)
    assert (wait.attempt, wait.max_attempts, wait.last_error) == (3, 4, None)


def test_airflow_timedelta_json_and_plain_seconds_decode_and_anything_else_is_none() -> None:
    assert timedelta_of(TASK["retry_delay"]) == dt.timedelta(seconds=60)
    assert timedelta_of({"__type": "TimeDelta", "days": 1, "seconds": 5, "microseconds": 0}) == dt.timedelta(
        days=1, seconds=5
    )
    assert timedelta_of(300) == dt.timedelta(seconds=300)
    assert timedelta_of(None) is None and timedelta_of("P1D") is None and timedelta_of(True) is None


# -- the adapter ----------------------------------------------------------------------------------


def _airflow(ti_state: str = "up_for_retry", run_state: str = "running") -> ScriptedAirflow:
    run = {**RUN, "state": run_state}
    ti = {**TI, "state": ti_state}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == f"/api/v2/dags/{DAG}/dagRuns/{NATIVE}":
            return httpx.Response(200, json=run)
        if path == "/api/v2/dags/~/dagRuns/list":
            return httpx.Response(200, json={"dag_runs": [run], "total_entries": 1})
        if path == "/api/v2/dags/~/dagRuns/~/taskInstances/list":
            asked = body(request)
            matches = ti["state"] in asked.get("state", [ti["state"]]) and ti["dag_run_id"] in asked["dag_run_ids"]
            items = [ti] if matches else []
            return httpx.Response(200, json={"task_instances": items, "total_entries": len(items)})
        if path == f"/api/v2/dags/{DAG}/tasks/query":
            return httpx.Response(200, json=TASK)
        if path == f"/api/v2/dags/{DAG}/dagRuns/{NATIVE}/taskInstances/query/logs/1":
            return httpx.Response(200, json=copy.deepcopy(CAPTURED["log_attempt_1"]))
        return httpx.Response(404, json={"detail": "not found"})

    return ScriptedAirflow(handler)


def test_get_run_of_a_run_waiting_for_a_retry_is_running_with_the_attempt_error_and_due_time() -> None:
    airflow = _airflow()
    record = airflow.orchestrator().get_run(RUN_ID)
    assert record.status is RunStatus.RUNNING and record.error_message is None
    assert record.retry == retry_wait(TI, TASK, ERROR)
    asked = body(next(r for r in airflow.requests if r.url.path.endswith("/taskInstances/list")))
    assert asked["state"] == ["up_for_retry"] and asked["dag_run_ids"] == [NATIVE]


def test_a_running_run_without_a_waiting_task_has_no_retry_and_costs_one_request_more() -> None:
    airflow = _airflow(ti_state="running")
    record = airflow.orchestrator().get_run(RUN_ID)
    assert record.status is RunStatus.RUNNING and record.retry is None
    assert [path for _, path in airflow.calls()] == [
        f"/api/v2/dags/{DAG}/dagRuns/{NATIVE}",
        "/api/v2/dags/~/dagRuns/~/taskInstances/list",
    ]


def test_a_finished_run_asks_nothing_about_retries() -> None:
    airflow = _airflow(run_state="success", ti_state="success")
    assert airflow.orchestrator().get_run(RUN_ID).retry is None
    assert airflow.calls() == [("GET", f"/api/v2/dags/{DAG}/dagRuns/{NATIVE}")]


def test_history_rows_of_runs_waiting_for_a_retry_carry_it_from_one_request_for_the_page() -> None:
    airflow = _airflow()
    runs, total = airflow.orchestrator().list_runs(RunQuery(names={DAG}, limit=10))
    assert total == 1 and runs[0].status is RunStatus.RUNNING
    assert runs[0].retry == retry_wait(TI, TASK, ERROR)
    assert sum(path.endswith("/taskInstances/list") for _, path in airflow.calls()) == 1


def test_a_page_of_task_instances_refused_by_airflows_database_is_asked_again() -> None:
    """Airflow on SQLite answers a read it could not lock for with 500 "Database error": a list is a
    read (even sent as POST), so asking again is safe."""
    inner = _airflow()
    refused = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances/list") and not refused:
            refused.append(request)
            return httpx.Response(500, json={"detail": "Database error"})
        return inner._handler(request)

    airflow = ScriptedAirflow(handler)
    assert airflow.orchestrator().get_run(RUN_ID).retry == retry_wait(TI, TASK, ERROR)
    assert len(refused) == 1
