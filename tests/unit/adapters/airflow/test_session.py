"""The Airflow session: JWT auth (httpx.Auth), retries only where safe, short timeouts naming Airflow."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dli.adapters.airflow.orchestrator import AirflowOrchestrator
from dli.adapters.clock import SystemClock
from dli.domain.model.errors import ConfigurationError, ServerError
from tests.support.hanging_server import hanging_server
from tests.unit.adapters.airflow.scripted import PASSWORD, ScriptedAirflow

DAGS = {"dags": [{"dag_id": "a.b", "is_paused": True}], "total_entries": 1}
RUN = {"dag_id": "a.b", "dag_run_id": "r1", "state": "queued", "run_type": "manual", "conf": {}}


def _ok(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=DAGS)


# -- authentication -------------------------------------------------------------------------------


def test_one_token_is_fetched_and_sent_as_bearer_on_every_request() -> None:
    airflow = ScriptedAirflow(_ok)
    orch = airflow.orchestrator()
    orch.pause_states()
    orch.pause_states()
    assert airflow.tokens_issued == 1
    assert airflow.bearers == ["Bearer tok1", "Bearer tok1"]


def test_a_rejected_token_is_renewed_once_and_the_request_sent_again() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok1":
            return httpx.Response(401, json={"detail": "Token Expired"})
        return _ok(request)

    airflow = ScriptedAirflow(handler)
    assert airflow.orchestrator().pause_states() == {"a.b": True}
    assert airflow.bearers == ["Bearer tok1", "Bearer tok2"]


def test_a_403_invalid_jwt_is_a_rejected_token_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok1":
            return httpx.Response(403, json={"detail": "Invalid JWT"})
        return _ok(request)

    airflow = ScriptedAirflow(handler)
    assert airflow.orchestrator().pause_states() == {"a.b": True}
    assert airflow.tokens_issued == 2


def test_a_token_rejected_again_after_renewal_is_not_renewed_a_second_time() -> None:
    airflow = ScriptedAirflow(lambda _r: httpx.Response(401, json={"detail": "nope"}))
    with pytest.raises(ServerError) as caught:
        airflow.orchestrator().pause_states()
    assert "HTTP 401" in caught.value.message
    assert airflow.tokens_issued == 2 and len(airflow.requests) == 2


def test_threads_sharing_a_session_fetch_one_token_and_renew_a_rejected_one_once() -> None:
    start = threading.Barrier(8)
    all_rejected = threading.Barrier(8, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer tok1":
            all_rejected.wait()  # every thread holds a rejected token before any renews it
            return httpx.Response(401, json={"detail": "Token Expired"})
        return _ok(request)

    airflow = ScriptedAirflow(handler)
    orch = airflow.orchestrator()

    def work(_: int) -> object:
        start.wait()
        return orch.pause_states()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [{"a.b": True}] * 8
    assert airflow.tokens_issued == 2


@pytest.mark.timeout(20)
def test_a_token_request_that_fails_releases_the_session_for_the_retry() -> None:
    airflow = ScriptedAirflow(_ok, token_errors=[httpx.ConnectError])
    assert airflow.orchestrator().pause_states() == {"a.b": True}
    assert airflow.tokens_issued == 1


def test_missing_credentials_are_a_configuration_error_before_any_request() -> None:
    airflow = ScriptedAirflow(_ok)
    with pytest.raises(ConfigurationError) as caught:
        airflow.orchestrator(password=None).pause_states()
    assert "DLI_AIRFLOW_PASSWORD" in " ".join(caught.value.hints)
    assert airflow.tokens_issued == 0 and airflow.requests == []


def test_refused_credentials_are_a_server_error_without_the_password() -> None:
    def transport(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "Invalid credentials"})

    orch = AirflowOrchestrator(
        base_url="http://airflow.test:8080",
        username="admin",
        password=PASSWORD,
        clock=SystemClock(),
        transport=httpx.MockTransport(transport),
    )
    with pytest.raises(ServerError) as caught:
        orch.pause_states()
    assert "refused dli's credentials" in caught.value.message
    assert (
        PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value.details) and PASSWORD not in repr(orch)
    )


# -- retries --------------------------------------------------------------------------------------


def _failing_first(failure, then: httpx.Response):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) == 1:
            if isinstance(failure, int):
                return httpx.Response(failure, json={"detail": "try later"})
            raise failure("boom", request=request)
        return then

    return handler, seen


def test_a_connection_never_made_is_retried_for_any_method_even_a_post() -> None:
    handler, seen = _failing_first(httpx.ConnectError, httpx.Response(200, json=RUN))
    record = ScriptedAirflow(handler).orchestrator().trigger("a.b", parameters={}, triggered_by=None)
    assert record.run_id == "a.b@r1" and seen == ["POST", "POST"]


@pytest.mark.parametrize("failure", [httpx.ReadError, httpx.RemoteProtocolError, 502, 503, 504])
def test_a_get_is_repeated_after_a_broken_connection_or_a_gateway_answer(failure) -> None:
    handler, seen = _failing_first(failure, httpx.Response(200, json=DAGS))
    assert ScriptedAirflow(handler).orchestrator().pause_states() == {"a.b": True}
    assert seen == ["GET", "GET"]


@pytest.mark.parametrize("failure", [httpx.ReadError, httpx.RemoteProtocolError, 502, 503])
def test_a_post_that_may_have_reached_airflow_is_never_repeated(failure) -> None:
    handler, seen = _failing_first(failure, httpx.Response(200, json=RUN))
    with pytest.raises(ServerError):
        ScriptedAirflow(handler).orchestrator().trigger("a.b", parameters={}, triggered_by=None)
    assert seen == ["POST"]


def test_a_read_timeout_is_not_repeated_even_for_a_get() -> None:
    handler, seen = _failing_first(httpx.ReadTimeout, httpx.Response(200, json=DAGS))
    with pytest.raises(ServerError):
        ScriptedAirflow(handler).orchestrator().pause_states()
    assert seen == ["GET"]


def test_retries_end_after_three_attempts_reporting_the_last_answer() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(503, json={"detail": "overloaded"})

    with pytest.raises(ServerError) as caught:
        ScriptedAirflow(handler).orchestrator().pause_states()
    assert "HTTP 503: overloaded" in caught.value.message and len(seen) == 3


# -- timeouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "options", "waited"),
    [
        (httpx.ReadTimeout, {}, "10 s"),
        (httpx.ConnectTimeout, {}, "3 s"),
        (httpx.ReadTimeout, {"read_timeout_seconds": 4}, "4 s"),
        (httpx.ReadTimeout, {"timeout_seconds": 2}, "2 s"),  # a caller's own patience caps both
    ],
)
def test_a_timeout_is_dli_503_naming_airflow_and_the_timeout_without_credentials(failure, options, waited) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure("slow", request=request)

    with pytest.raises(ServerError) as caught:
        ScriptedAirflow(handler).orchestrator(**options).pause_states()
    assert caught.value.code.value == "DLI-503"
    assert caught.value.message == f"Airflow at http://airflow.test:8080 did not answer in {waited}"
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value.details)


@pytest.mark.slow
@pytest.mark.timeout(40)
def test_a_hung_airflow_is_asked_once_and_is_dli_503_naming_it() -> None:
    with hanging_server() as server:
        orch = AirflowOrchestrator(base_url=server.url, username="admin", password=PASSWORD, clock=SystemClock())
        with pytest.raises(ServerError) as caught:
            orch.pause_states()
        orch.close()
    assert caught.value.message == f"Airflow at {server.url} did not answer in 10 s"
    assert server.connections == 1
    assert PASSWORD not in str(caught.value)


@pytest.mark.timeout(30)
def test_threads_waiting_behind_a_login_that_got_no_answer_fail_at_once() -> None:
    # A hung Airflow must cost each of N concurrent requests one timeout, not one per thread in line
    # for the token lock (the login is sent by one thread while the others wait for its token).
    in_login, release = threading.Event(), threading.Event()
    logins: list[str] = []

    def transport(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/auth/token"
        logins.append(threading.current_thread().name)
        in_login.set()
        release.wait(10)
        raise httpx.ReadTimeout("no answer", request=request)

    orch = AirflowOrchestrator(
        base_url="http://airflow.test:8080",
        username="admin",
        password=PASSWORD,
        clock=SystemClock(),
        transport=httpx.MockTransport(transport),
        sleep=lambda _s: None,
    )
    errors: list[str] = []

    def work() -> None:
        try:
            orch.pause_states()
        except ServerError as exc:
            errors.append(exc.message)

    first = threading.Thread(target=work)
    first.start()
    assert in_login.wait(10)
    waiting = [threading.Thread(target=work) for _ in range(3)]
    for thread in waiting:
        thread.start()
    threading.Event().wait(0.5)  # let them queue on the token lock
    release.set()
    for thread in (first, *waiting):
        thread.join(20)
    assert len(logins) == 1
    assert sorted(errors) == sorted(
        ["Airflow at http://airflow.test:8080 did not answer in 10 s"]
        + ["Airflow at http://airflow.test:8080 did not answer: the login another request just sent got no answer"] * 3
    )
