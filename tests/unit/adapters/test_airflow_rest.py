"""AirflowOrchestrator against a scripted Airflow (httpx.MockTransport): auth, errors, mapping.

The behaviour against a real Airflow is covered by tests/e2e (contract and scenarios).
"""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from dli.adapters.airflow.orchestrator import AirflowOrchestrator
from dli.adapters.clock import FakeClock
from dli.domain.model.enums import RunStatus, RunType
from dli.domain.model.errors import ServerError, WorkflowExecutionError

URL = "http://airflow.test:8080"


def _jwt(exp: float) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    return f"e30.{payload}.sig"


def _orchestrator(handler, **kwargs) -> AirflowOrchestrator:
    return AirflowOrchestrator(
        base_url=URL, username="admin", password="pw-secret", clock=FakeClock(), transport=httpx.MockTransport(handler),
        sleep=lambda _s: None, **kwargs,
    )


def _run(**fields):
    base = {
        "dag_id": "a.b", "dag_run_id": "r1", "state": "success", "run_type": "manual", "conf": {},
        "note": None, "logical_date": None, "run_after": "2025-01-01T00:00:00Z", "queued_at": "2025-01-01T00:00:00Z",
        "start_date": "2025-01-01T00:00:01Z", "end_date": "2025-01-01T00:00:02Z",
    }
    return {**base, **fields}


def test_a_401_renews_the_token_once_and_retries() -> None:
    tokens = iter([_jwt(time.time() + 3600), _jwt(time.time() + 7200)])
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": next(tokens)})
        seen.append(request.headers["Authorization"])
        if len(seen) == 1:
            return httpx.Response(401, json={"detail": "Token Expired"})
        return httpx.Response(200, json={"dags": [{"dag_id": "a.b", "is_paused": True}], "total_entries": 1})

    assert _orchestrator(handler).pause_states() == {"a.b": True}
    assert len(seen) == 2 and seen[0] != seen[1]


def test_a_token_close_to_expiry_is_renewed_before_use() -> None:
    fetched = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            fetched.append(1)
            return httpx.Response(201, json={"access_token": _jwt(time.time() + 10)})  # inside the margin
        return httpx.Response(200, json={"dags": [], "total_entries": 0})

    orch = _orchestrator(handler)
    orch.pause_states()
    orch.pause_states()
    assert len(fetched) == 2


def test_a_timeout_is_a_server_error_naming_airflow_without_credentials() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ServerError) as caught:
        _orchestrator(handler, timeout_seconds=3).pause_states()
    assert "airflow.test:8080" in caught.value.message and "3s" in caught.value.message
    assert "pw-secret" not in str(caught.value) and "pw-secret" not in repr(caught.value.details)


def test_a_dag_that_never_appears_is_a_clear_error_after_a_bounded_wait() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": _jwt(time.time() + 3600)})
        if request.url.path == "/api/v2/dags":
            return httpx.Response(200, json={"dags": [], "total_entries": 0})
        return httpx.Response(404, json={"detail": "not found"})

    with pytest.raises(WorkflowExecutionError) as caught:
        _orchestrator(handler, dag_wait_seconds=0.05).set_paused("a.b", True)
    assert "a.b" in caught.value.message


def test_a_run_stopped_through_dli_maps_to_killed_and_backfill_runs_carry_their_date() -> None:
    killed = _run(state="failed", note="dli:killed\ndli: triggered by alice")
    backfill = _run(
        dag_run_id="backfill__2025-01-01T15:00:00+00:00", run_type="backfill", logical_date="2025-01-01T15:00:00Z",
        conf={"x": 1, "dli_backfill": {"timezone": "Asia/Seoul", "triggered_by": "bob"}},
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": _jwt(time.time() + 3600)})
        return httpx.Response(200, json={"dag_runs": [killed, backfill], "total_entries": 2})

    runs, total = _orchestrator(handler).list_runs(names={"a.b"})
    assert total == 2
    assert runs[0].status is RunStatus.KILLED and runs[0].triggered_by == "alice" and runs[0].run_id == "a.b@r1"
    assert runs[1].run_type is RunType.BACKFILL and runs[1].triggered_by == "bob"
    # 15:00 UTC on Jan 1 is already Jan 2 in Seoul: the date the run is for.
    assert runs[1].parameters == {"x": 1, "execution_date": "2025-01-02"}
