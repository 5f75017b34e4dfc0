"""AirflowOrchestrator and dependencies: chained backfill runs, and runs whose dli_guard still waits."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from dli.adapters.airflow.runs import asset_name, run_record
from dli.domain.model.enums import RunStatus, RunType
from dli.domain.model.errors import ServerError
from dli.ports.orchestrator import ChainStep, RunQuery
from tests.unit.adapters.airflow.scripted import ScriptedAirflow, body
from tests.unit.adapters.airflow.test_orchestrator import _run


def test_a_chain_is_one_manual_run_per_step_each_naming_the_run_before_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = body(request)
        dag = request.url.path.split("/")[4]
        return httpx.Response(
            200, json=_run(dag_id=dag, dag_run_id=sent["dag_run_id"], state="queued", conf=sent["conf"])
        )

    airflow = ScriptedAirflow(handler)
    steps = [
        ChainStep(name="s.a", date=dt.date(2025, 1, 2), parameters={"n": 1}, timezone="Asia/Seoul"),
        ChainStep(name="s.b", date=dt.date(2025, 1, 2)),
        ChainStep(name="s.a", date=dt.date(2025, 1, 3), parameters={"n": 1}, timezone="Asia/Seoul"),
    ]
    handle = airflow.orchestrator().backfill_chain(steps, triggered_by="alice")
    assert [c for c in airflow.calls()] == [
        ("POST", "/api/v2/dags/s.a/dagRuns"),
        ("POST", "/api/v2/dags/s.b/dagRuns"),
        ("POST", "/api/v2/dags/s.a/dagRuns"),
    ]
    sent = [body(r) for r in airflow.requests]
    assert [s["logical_date"] for s in sent] == [None, None, None]
    assert [s["conf"]["execution_date"] for s in sent] == ["2025-01-02", "2025-01-02", "2025-01-03"]
    assert sent[0]["conf"]["n"] == 1 and "n" not in sent[1]["conf"]
    markers = [s["conf"]["dli_backfill"] for s in sent]
    assert "after" not in markers[0]
    assert markers[1]["after"] == {
        "dag_id": "s.a",
        "run_id": sent[0]["dag_run_id"],
        "dataset": "s.a",
        "date": "2025-01-02",
    }
    assert markers[2]["after"]["run_id"] == sent[1]["dag_run_id"]
    assert len({m["id"] for m in markers}) == 1 and markers[0]["timezone"] == "Asia/Seoul"
    assert handle.run_ids == tuple(f"{n}@{s['dag_run_id']}" for n, s in zip(["s.a", "s.b", "s.a"], sent, strict=True))
    assert all(s["note"] == "dli: triggered by alice" for s in sent)


def test_a_chain_that_cannot_be_created_whole_stops_the_runs_already_created() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(200, json=_run(state="failed"))
        if "/s.b/" in request.url.path:
            return httpx.Response(500, json={"detail": "boom"})
        return httpx.Response(200, json=_run(dag_id="s.a", dag_run_id=body(request)["dag_run_id"], state="queued"))

    airflow = ScriptedAirflow(handler)
    steps = [ChainStep(name="s.a", date=dt.date(2025, 1, 2)), ChainStep(name="s.b", date=dt.date(2025, 1, 2))]
    with pytest.raises(ServerError):
        airflow.orchestrator().backfill_chain(steps, triggered_by=None)
    first = body(airflow.requests[0])["dag_run_id"]
    patch = airflow.requests[-1]
    assert (patch.method, patch.url.path) == ("PATCH", f"/api/v2/dags/s.a/dagRuns/{first}")
    assert body(patch)["state"] == "failed" and body(patch)["note"].startswith("dli:killed")


def test_a_chained_run_reads_as_a_backfill_for_its_date_in_its_timezone() -> None:
    marker = {"id": "x", "date": "2025-01-02", "timezone": "Asia/Seoul", "after": {"dag_id": "s.a", "run_id": "r0"}}
    record = run_record(_run(conf={"execution_date": "2025-01-02", "dli_backfill": marker}))
    assert record.run_type is RunType.BACKFILL
    assert record.logical_date.isoformat() == "2025-01-02T00:00:00+09:00"
    assert record.parameters == {"execution_date": "2025-01-02"}


def _waiting_airflow(guard: dict | None, **run_fields) -> ScriptedAirflow:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances/dli_guard"):
            return httpx.Response(200, json=guard) if guard else httpx.Response(404, json={"detail": "none"})
        if request.url.path.endswith("/taskInstances"):
            return httpx.Response(200, json={"task_instances": [], "total_entries": 0})
        if request.url.path == "/api/v2/dags/~/dagRuns/~/taskInstances/list":
            items = [{**guard, "dag_id": "s.b", "dag_run_id": "asset_triggered__1"}] if guard else []
            return httpx.Response(200, json={"task_instances": items, "total_entries": len(items)})
        if request.url.path == "/api/v2/dags/~/dagRuns/list":
            return httpx.Response(200, json={"dag_runs": [raw], "total_entries": 1})
        return httpx.Response(200, json=raw)

    raw = _run(dag_id="s.b", dag_run_id="asset_triggered__1", run_type="asset_triggered", **run_fields)
    return ScriptedAirflow(handler)


@pytest.mark.parametrize("guard", [None, {"state": "up_for_reschedule", "end_date": None}, {"state": "running"}])
def test_a_run_whose_guard_still_waits_is_pending_and_not_started(guard) -> None:
    airflow = _waiting_airflow(guard, state="running", end_date=None)
    orch = airflow.orchestrator()
    record = orch.get_run("s.b@asset_triggered__1")
    assert (record.status, record.started_at, record.run_type) == (RunStatus.PENDING, None, RunType.SCHEDULED)
    (listed,), _ = orch.list_runs(RunQuery(names={"s.b"}))
    assert (listed.status, listed.started_at) == (RunStatus.PENDING, None)


def test_a_run_let_through_by_its_guard_started_when_the_guard_ended() -> None:
    guard = {"state": "success", "end_date": "2025-01-01T00:00:09Z"}
    airflow = _waiting_airflow(guard, state="success")
    orch = airflow.orchestrator()
    record = orch.get_run("s.b@asset_triggered__1")
    assert record.status is RunStatus.COMPLETED
    assert record.started_at == dt.datetime(2025, 1, 1, 0, 0, 9, tzinfo=dt.UTC)
    (listed,), _ = orch.list_runs(RunQuery(names={"s.b"}))
    assert listed.started_at == record.started_at


def test_a_run_its_guard_stopped_is_killed_and_never_started() -> None:
    guard = {
        "state": "failed",
        "end_date": "2025-01-01T00:00:09Z",
        "task_id": "dli_guard",
        "try_number": 0,
        "dag_id": "s.b",
        "dag_run_id": "asset_triggered__1",
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/taskInstances/dli_guard"):
            return httpx.Response(200, json=guard)
        if request.url.path.endswith("/taskInstances"):
            return httpx.Response(200, json={"task_instances": [guard], "total_entries": 1})
        return httpx.Response(
            200, json=_run(dag_id="s.b", dag_run_id="asset_triggered__1", run_type="asset_triggered", state="failed")
        )

    record = ScriptedAirflow(handler).orchestrator().get_run("s.b@asset_triggered__1")
    assert (record.status, record.started_at) == (RunStatus.KILLED, None)


def test_every_dataset_publishes_one_stable_asset_name() -> None:
    assert asset_name("iceberg.raw.user_events") == "dli://iceberg.raw.user_events"
