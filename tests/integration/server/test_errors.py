"""Bad input and failing backends: a 4xx or 503 with a DLI code, never a traceback, nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from structlog.testing import capture_logs

from dli.adapters.basecamp.client import BasecampClient
from dli.adapters.clock import SystemClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import RunStatus, RunType, SourceType
from dli.domain.model.errors import ErrorCode, ServerError, StoreUnavailableError
from dli.domain.usecases.runs import GetRunLogs, GetRunStatus, StopRun
from dli.entrypoints.server.errors import STATUS_BY_CODE
from dli.ports.orchestrator import RunRecord
from tests.integration.server.conftest import LiveServer
from tests.support.specs import make_document

NAME = "shop.errors.target"
SPEC = {"name": NAME, "query_statement": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "hints"}
    return body["error"]["code"]


def test_every_dli_code_has_an_http_status_below_500_or_503():
    assert set(STATUS_BY_CODE) == set(ErrorCode)
    assert all(400 <= s < 500 or s in (502, 503) for s in STATUS_BY_CODE.values())
    assert STATUS_BY_CODE[ErrorCode.WORKFLOW_PERMISSION_DENIED] == 403
    assert STATUS_BY_CODE[ErrorCode.WORKFLOW_NOT_FOUND] == STATUS_BY_CODE[ErrorCode.DATASET_NOT_FOUND] == 404
    for code in ("WORKFLOW_ALREADY_EXISTS", "WORKFLOW_OVERRIDDEN", "WORKFLOW_INVALID_STATE"):
        assert STATUS_BY_CODE[ErrorCode[code]] == 409
    # An unregister fails only when the store refuses or cannot be reached: a dependency, not a conflict.
    assert STATUS_BY_CODE[ErrorCode.WORKFLOW_UNREGISTER_FAILED] == 503


# -- malformed bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"\xff\xfe", 400),
        (b"[1, 2]", 422),
        (b'"spec"', 422),
        (b'{"spec": "name: x"}', 422),
        (b'{"spec": {"name": "shop.errors.target"}, "force": "yes"}', 422),
        (b'{"spec": {"name": "shop.errors.target"}, "force": 1}', 422),
        (b'{"spec": {}, "unknown": true}', 422),
        (b'{"force": false}', 422),
    ],
)
def test_malformed_register_bodies_are_refused_and_write_nothing(live: LiveServer, content, status):
    response = live.call("POST", "/api/v1/workflows", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert error_of(response) == "DLI-204"
    assert live.stored_files() == []


def test_a_body_not_sent_as_json_is_415_and_writes_nothing(live: LiveServer):
    body = b'{"spec": {"name": "shop.errors.target", "query_statement": "SELECT 1", "schedule": {"cron": "0 9 * * *"}}}'
    response = live.call("POST", "/api/v1/workflows", content=body, headers={"Content-Type": "text/plain"})
    assert (response.status_code, error_of(response)) == (415, "DLI-204")
    assert live.stored_files() == []


@pytest.mark.parametrize(
    "spec",
    [
        {**SPEC, "name": "../../etc/passwd"},
        {**SPEC, "name": "Shop.Errors"},
        {**SPEC, "name": "a/b"},
        {**SPEC, "name": 7},
        {**SPEC, "parameters": [{"name": "x", "type": "blob"}]},
        {key: value for key, value in SPEC.items() if key != "query_statement"},
        {key: value for key, value in SPEC.items() if key != "schedule"},
        {**SPEC, "schedule": {"cron": "0 9 * * *", "retry": {"max_attempts": 0}}},
    ],
)
def test_invalid_specs_are_dli_203_and_write_nothing(live: LiveServer, spec):
    response = live.call("POST", "/api/v1/workflows", json={"spec": spec})
    assert response.status_code == 422
    assert error_of(response) == "DLI-203"
    assert live.stored_files() == []


@pytest.mark.parametrize(
    "schedule", [{"cron": "61 9 * * *"}, {"cron": "0 9 * *"}, {"cron": 5}, {"cron": "0 9 * * *", "timezone": "../etc"}]
)
def test_invalid_cron_or_timezone_is_422_dli_805(live: LiveServer, schedule):
    response = live.call("POST", "/api/v1/workflows", json={"spec": {**SPEC, "schedule": schedule}})
    assert response.status_code == 422
    assert error_of(response) == "DLI-805"
    assert live.stored_files() == []


def test_a_body_over_one_mib_is_413(live: LiveServer):
    padding = "x" * (1024 * 1024 + 10)
    response = live.call("POST", "/api/v1/workflows", json={"spec": {**SPEC, "description": padding}})
    assert response.status_code == 413
    assert error_of(response) == "DLI-204"
    assert live.stored_files() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/api/v1/workflows/{NAME}/run", {"parameters": []}),
        (f"/api/v1/workflows/{NAME}/run", {"dry_run": "true"}),
        (f"/api/v1/workflows/{NAME}/run", {"params": {}}),
        (f"/api/v1/workflows/{NAME}/backfill", {"start_date": 20250101, "end_date": "2025-01-02"}),
        (f"/api/v1/workflows/{NAME}/backfill", {"start_date": "2025-01-01"}),
        (f"/api/v1/workflows/{NAME}/pause", {"source_type": "git"}),
        (f"/api/v1/workflows/{NAME}/unpause", {"source": "manual"}),
    ],
)
def test_wrong_types_and_unknown_fields_in_action_bodies_are_422_dli_204(live: LiveServer, path, body):
    response = live.call("POST", path, json=body)
    assert response.status_code == 422
    assert error_of(response) == "DLI-204"


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=abc", "limit=10001", "status=bogus", "source_type=git", "colour=red", "running_only=maybe"],
)
def test_bad_list_queries_are_4xx_dli_204(live: LiveServer, query):
    response = live.call("GET", f"/api/v1/workflows?{query}")
    assert response.status_code in (400, 422)
    assert error_of(response) == "DLI-204"


# -- path tricks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segment", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "Shop.Errors", "a%20b", "x%40y", "a%5Cb", ".hidden", "a%00b"]
)
@pytest.mark.parametrize("method_suffix", [("GET", ""), ("DELETE", ""), ("POST", "/run"), ("POST", "/pause")])
def test_path_tricks_in_dataset_names_are_422_dli_203(live: LiveServer, segment, method_suffix):
    method, suffix = method_suffix
    response = live.call(method, f"/api/v1/workflows/{segment}{suffix}", json={} if method == "POST" else None)
    assert response.status_code == 422
    assert error_of(response) == "DLI-203"
    assert live.stored_files() == []


def test_unknown_endpoints_are_404_with_a_dli_code(live: LiveServer):
    response = live.call("GET", "/api/v1/nothing/here")
    assert response.status_code == 404
    assert error_of(response) == "DLI-800"


# -- statuses of domain errors ----------------------------------------------------------------------


def test_domain_errors_map_to_their_statuses(live: LiveServer):
    name = "shop.errors.states"
    spec = {**SPEC, "name": name}
    assert live.call("POST", "/api/v1/workflows", json={"spec": spec}).status_code == 201
    again = live.call("POST", "/api/v1/workflows", json={"spec": spec})
    assert (again.status_code, error_of(again)) == (409, "DLI-804")
    forced = live.call("POST", "/api/v1/workflows", json={"spec": spec, "force": True})
    assert forced.status_code == 200 and forced.json()["updated"] is True
    unpause = live.call("POST", f"/api/v1/workflows/{name}/unpause", json={})
    assert (unpause.status_code, error_of(unpause)) == (409, "DLI-807")
    missing = live.call("GET", "/api/v1/workflows/shop.errors.nothing")
    assert (missing.status_code, error_of(missing)) == (404, "DLI-800")
    bad_params = live.call("POST", f"/api/v1/workflows/{name}/run", json={"parameters": 7})
    assert (bad_params.status_code, error_of(bad_params)) == (422, "DLI-204")
    assert live.call("DELETE", f"/api/v1/workflows/{name}").status_code == 200


def test_code_workflows_refuse_modify_and_delete_with_403_but_allow_pause(live: LiveServer):
    name = "shop.errors.code"
    live.publish_code(name)
    live.wait_until(lambda: (name, "code", "active") in live.listed(source_type="code"))
    for force in (False, True):
        response = live.call("POST", "/api/v1/workflows", json={"spec": {**SPEC, "name": name}, "force": force})
        assert (response.status_code, error_of(response)) == (403, "DLI-803")
    response = live.call("DELETE", f"/api/v1/workflows/{name}")
    assert (response.status_code, error_of(response)) == (403, "DLI-803")
    assert live.call("POST", f"/api/v1/workflows/{name}/pause", json={}).status_code == 200
    assert live.call("GET", f"/api/v1/workflows/{name}").json()["status"] == "paused"
    assert live.call("POST", f"/api/v1/workflows/{name}/unpause").status_code == 200
    assert live.call("GET", f"/api/v1/workflows/{name}").json()["status"] == "active"
    assert live.stored_files() == [f"code/{name}.yaml"]
    live.store.delete(SourceType.CODE, name)
    live.wait_until(lambda: live.listed(source_type="code") == [])


# -- run ids -------------------------------------------------------------------------------------

SCHEDULED = "shop.sales.daily@scheduled__2025-01-01T09:00:00+00:00"


def test_run_ids_with_at_colon_and_plus_survive_the_path(live: LiveServer):
    response = live.call("GET", "/api/v1/runs/" + SCHEDULED.replace("@", "%40").replace(":", "%3A").replace("+", "%2B"))
    assert response.status_code == 404
    assert response.json()["error"]["details"]["run_id"] == SCHEDULED


def test_a_scheduled_run_round_trips_through_the_client(in_process):
    orchestrator = InMemoryOrchestrator(clock=SystemClock())
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document("shop.sales.daily"))
    logical = dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)
    orchestrator.add_run(
        RunRecord(
            run_id=SCHEDULED,
            dataset_name="shop.sales.daily",
            status=RunStatus.RUNNING,
            run_type=RunType.SCHEDULED,
            logical_date=logical,
            started_at=dt.datetime.now(dt.UTC),
        )
    )
    app = in_process(store=store, orchestrator=orchestrator)
    client = BasecampClient(base_url="http://testserver.local", token=app.token, transport=app.client._transport)
    status = client.handle(GetRunStatus(run_id=SCHEDULED))
    assert (status.run_id, status.run_type, status.run_status) == (SCHEDULED, RunType.SCHEDULED, RunStatus.RUNNING)
    assert client.handle(StopRun(run_id=SCHEDULED)).run_status is RunStatus.KILLED
    assert client.handle(GetRunLogs(run_id=SCHEDULED)).run_id == SCHEDULED


# -- failing backends ------------------------------------------------------------------------------


class _UnreachableStore(InMemorySpecStore):
    def list_etags(self, source):
        raise StoreUnavailableError("Spec store s3://bucket cannot be reached")

    def read(self, source, name):
        raise StoreUnavailableError("Spec store s3://bucket cannot be reached")


class _DeleteDeniedStore(InMemorySpecStore):
    def delete(self, source, name):
        raise StoreUnavailableError(
            "Spec store s3://bucket/specs cannot delete: access denied",
            hints=("Grant s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject.",),
        )


class _BrokenOrchestrator(InMemoryOrchestrator):
    def list_runs(self, query):
        raise RuntimeError("bug")


class _DownOrchestrator(InMemoryOrchestrator):
    def _down(self, *args, **kwargs):
        raise ServerError("Airflow at http://airflow:8080 cannot be reached")

    workflow_states = list_runs = pause_states = _down


def test_an_unavailable_store_is_503_dli_503_and_health_says_so(in_process):
    app = in_process(store=_UnreachableStore())
    response = app.call("GET", "/api/v1/workflows")
    assert (response.status_code, error_of(response)) == (503, "DLI-503")
    health = app.client.get("/health")
    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert health.json()["store"]["reachable"] is False


def test_a_delete_refused_by_the_stores_permissions_is_503_dli_808_and_keeps_the_workflow(in_process):
    store = _DeleteDeniedStore()
    store.create(SourceType.MANUAL, make_document(NAME))
    app = in_process(store=store)
    response = app.call("DELETE", f"/api/v1/workflows/{NAME}")
    assert (response.status_code, error_of(response)) == (503, "DLI-808")
    assert "access denied" in response.json()["error"]["message"]
    assert "s3:DeleteObject" in " ".join(response.json()["error"]["hints"])
    assert store.read(SourceType.MANUAL, NAME) is not None


def test_an_unavailable_orchestrator_is_503_but_list_answers_without_run_state_and_health_says_so(in_process):
    store = InMemorySpecStore()
    store.create(SourceType.MANUAL, make_document(NAME))
    app = in_process(store=store, orchestrator=_DownOrchestrator(clock=SystemClock()))
    response = app.call("GET", "/api/v1/history")
    assert (response.status_code, error_of(response)) == (503, "DLI-503")
    listed = app.call("GET", "/api/v1/workflows")
    assert listed.status_code == 200
    [row] = listed.json()["workflows"]
    assert (row["dataset_name"], row["status"], row["status_known"], row["running"]) == (NAME, "active", False, None)
    assert "cannot be reached" in listed.json()["warnings"][0]
    health = app.client.get("/health")
    assert health.status_code == 503
    assert health.json()["orchestrator"]["reachable"] is False and health.json()["store"]["reachable"] is True


def test_an_unexpected_exception_is_500_with_a_dli_503_body_and_is_logged(in_process):
    app = in_process(orchestrator=_BrokenOrchestrator(clock=SystemClock()))
    with capture_logs() as logs:
        response = app.client.get(
            "/api/v1/history", headers={"Authorization": f"Bearer {app.token}", "X-Request-ID": "req-42"}
        )
    assert response.status_code == 500
    assert error_of(response) == "DLI-503"
    assert response.json()["error"]["details"]["request_id"] == "req-42"
    assert "bug" not in response.text and "Traceback" not in response.text
    logged = [line for line in logs if line["event"] == "unhandled_error"]
    assert logged and logged[0]["request_id"] == "req-42"
