"""The Basecamp HTTP client: unreachable servers, bad tokens, retries only where safe, no token leaks."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from dli import ExecutionContext, ExecutionMode, WorkflowAPI
from dli.adapters.basecamp.client import BasecampClient
from dli.adapters.clock import FakeClock
from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
from dli.adapters.stores.memory import InMemorySpecStore
from dli.domain.model.enums import RunStatus, SourceType
from dli.domain.model.errors import (
    AuthenticationError,
    ErrorCode,
    ServerError,
    ServerUnreachableError,
    WorkflowOverriddenError,
)
from dli.domain.usecases.history import GetHistory
from dli.domain.usecases.listing import GetWorkflow, ListWorkflows
from dli.domain.usecases.pause import UnpauseWorkflow
from dli.domain.usecases.runs import GetRunStatus, TriggerRun
from tests.integration.server.conftest import LiveServer
from tests.support.basecamp import free_port
from tests.support.specs import make_document

SECRET = "bc_0123456789abcdef_" + "S" * 43


def test_an_unreachable_server_is_dli_501_naming_the_url_after_retries():
    port = free_port()
    slept: list[float] = []
    client = BasecampClient(base_url=f"http://127.0.0.1:{port}/", token=SECRET, sleep=slept.append)
    with pytest.raises(ServerUnreachableError) as exc:
        client.handle(ListWorkflows())
    assert exc.value.code is ErrorCode.SERVER_UNREACHABLE
    assert f"http://127.0.0.1:{port}" in exc.value.message
    assert len(slept) == 2 and all(0 < s <= 1.5 for s in slept)  # two retries, backing off
    assert SECRET not in str(exc.value) and SECRET not in repr(exc.value) and SECRET not in repr(client)


def test_a_wrong_token_is_dli_502_without_the_token_in_the_error(live: LiveServer):
    api = WorkflowAPI(ExecutionContext(execution_mode=ExecutionMode.SERVER, server_url=live.url, api_token=SECRET))
    with pytest.raises(AuthenticationError) as exc:
        api.list_workflows()
    assert exc.value.code is ErrorCode.AUTH_FAILED
    assert SECRET not in str(exc.value) and SECRET not in repr(exc.value) and SECRET not in repr(api)
    assert all(SECRET not in hint for hint in exc.value.hints)


def test_no_token_is_dli_502_with_a_hint_to_set_one(live: LiveServer):
    client = BasecampClient(base_url=live.url)
    with pytest.raises(AuthenticationError) as exc:
        client.handle(GetWorkflow(dataset_name="shop.sales.daily"))
    assert any("DLI_API_TOKEN" in hint for hint in exc.value.hints)


def _mock(handler):
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return handler(request, len(calls))

    return httpx.MockTransport(record), calls


def test_get_requests_are_retried_on_a_proxys_503_and_read_errors():
    def handler(request, n):
        if n == 1:
            raise httpx.ReadError("reset", request=request)
        if n == 2:
            return httpx.Response(503, text="<html>503 Service Temporarily Unavailable</html>")
        return httpx.Response(200, json={"workflows": [], "total_count": 0, "status": "success"})

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None)
    assert client.handle(ListWorkflows()).total_count == 0
    assert len(calls) == 3


def test_basecamps_own_503_is_final_and_not_asked_again():
    # Basecamp's 503 names a dependency that is down or hung; its adapters already retried what was
    # safe. Asking again would triple what a hung dependency costs (each answer takes its timeout).
    def handler(request, n):
        return httpx.Response(
            503, json={"error": {"code": "DLI-503", "message": "Airflow at http://af did not answer in 10 s"}}
        )

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None)
    with pytest.raises(ServerError, match="Airflow at http://af did not answer in 10 s"):
        client.handle(ListWorkflows())
    assert len(calls) == 1


def test_a_timed_out_read_is_not_repeated_even_for_a_get():
    # The server took the request and did not answer in time: asking again would multiply the wait
    # (3 x 30 s by default) before the user hears anything.
    def handler(request, n):
        raise httpx.ReadTimeout("timed out", request=request)

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None)
    with pytest.raises(ServerUnreachableError, match="did not answer in time"):
        client.handle(ListWorkflows())
    assert len(calls) == 1


def test_posts_are_not_retried_once_sent():
    def handler(request, n):
        raise httpx.ReadError("reset", request=request)

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None)
    with pytest.raises(ServerUnreachableError):
        client.handle(TriggerRun(dataset_name="shop.sales.daily"))
    assert len(calls) == 1


def test_posts_are_retried_when_the_connection_was_never_made():
    def handler(request, n):
        if n < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"dataset_name": "shop.sales.daily", "status": "success"})

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None)
    assert client.handle(TriggerRun(dataset_name="shop.sales.daily")).dataset_name == "shop.sales.daily"
    assert len(calls) == 3


def test_error_bodies_become_the_same_exceptions_and_odd_bodies_a_server_error():
    def handler(request, n):
        if n == 1:
            return httpx.Response(
                409,
                json={
                    "error": {
                        "code": "DLI-806",
                        "message": "overridden",
                        "details": {"dataset_name": "a"},
                        "hints": ["h"],
                    }
                },
            )
        return httpx.Response(502, text="<html>bad gateway</html>")

    transport, _ = _mock(handler)
    client = BasecampClient(
        base_url="http://basecamp", token="t", transport=transport, sleep=lambda _s: None, retries=0
    )
    with pytest.raises(WorkflowOverriddenError) as exc:
        client.handle(UnpauseWorkflow(dataset_name="a.b"))
    assert (exc.value.message, exc.value.details, exc.value.hints) == ("overridden", {"dataset_name": "a"}, ("h",))
    with pytest.raises(ServerError) as exc:
        client.handle(UnpauseWorkflow(dataset_name="a.b"))
    assert "502" in exc.value.message


def test_the_token_is_sent_as_a_bearer_header():
    seen: list[str] = []

    def handler(request, n):
        seen.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json={"workflows": [], "total_count": 0, "status": "success"})

    transport, _ = _mock(handler)
    BasecampClient(base_url="http://basecamp", token="tok", transport=transport).handle(ListWorkflows())
    assert seen == ["Bearer tok"]


def test_a_busy_refusal_is_repeated_after_retry_after_even_for_a_post_and_other_503s_are_not():
    slept: list[float] = []

    def handler(request, n):
        if n == 1:
            busy = {"error": {"code": "DLI-503", "message": "Basecamp is busy", "details": {}, "hints": []}}
            return httpx.Response(503, json=busy, headers={"Retry-After": "2"})
        if n == 2:
            return httpx.Response(200, json={"dataset_name": "a.b", "status": "success"})
        down = {"error": {"code": "DLI-503", "message": "store down", "details": {}, "hints": []}}
        return httpx.Response(503, json=down)

    transport, calls = _mock(handler)
    client = BasecampClient(base_url="http://basecamp", token="t", transport=transport, sleep=slept.append)
    assert client.handle(UnpauseWorkflow(dataset_name="a.b")).dataset_name == "a.b"
    assert slept == [2.0]
    with pytest.raises(ServerError, match="store down"):
        client.handle(UnpauseWorkflow(dataset_name="a.b"))  # may have been worked on: not repeated
    assert slept == [2.0]


def test_a_run_waiting_for_a_retry_round_trips_through_the_server_and_the_client(in_process):
    clock = FakeClock()
    store = InMemorySpecStore()
    store.create(
        SourceType.MANUAL, make_document("shop.flaky", execution={"retry_count": 2, "retry_delay_seconds": 300})
    )
    orchestrator = InMemoryOrchestrator(clock=clock, store=store)
    orchestrator.inject_failure("shop.flaky", "no such table: t")
    run_id = orchestrator.trigger("shop.flaky", parameters={}, triggered_by="alice").run_id
    clock.advance(10)  # attempt 1 failed 4 s after the trigger
    app = in_process(store=store, orchestrator=orchestrator)
    wire = app.call("GET", f"/api/v1/runs/{run_id}").json()
    failed_at = clock.now() - dt.timedelta(seconds=6)
    assert wire["run_status"] == "RUNNING" and wire["retry"] == {
        "attempt": 1,
        "max_attempts": 3,
        "last_error": "no such table: t",
        "failed_at": failed_at.isoformat(),
        "next_attempt_at": (failed_at + dt.timedelta(seconds=300)).isoformat(),
    }
    client = BasecampClient(base_url="http://testserver.local", token=app.token, transport=app.client._transport)
    status = client.handle(GetRunStatus(run_id=run_id))
    assert status.run_status is RunStatus.RUNNING and status.retry == orchestrator.get_run(run_id).retry
    (run,) = client.handle(GetHistory(dataset_name="shop.flaky")).runs
    assert run.retry == status.retry
