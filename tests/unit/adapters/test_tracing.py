"""W3C trace context: what the client sends, what the server reads, what goes on to Airflow."""

from __future__ import annotations

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from dli.adapters.airflow.session import AirflowSession
from dli.adapters.tracing import Tracer, new_traceparent
from dli.entrypoints.server.tracing import trace_id_of


def _provider() -> TracerProvider:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    return provider


def test_without_opentelemetry_every_request_gets_a_new_valid_traceparent() -> None:
    tracer = Tracer(use_otel=False)
    with tracer.client_request("ListWorkflows") as first, tracer.client_request("ListWorkflows") as second:
        ids = {trace_id_of(first["traceparent"]), trace_id_of(second["traceparent"])}
    assert None not in ids and len(ids) == 2


def test_the_server_reads_only_valid_traceparents() -> None:
    assert trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(new_traceparent()) is not None
    for bad in (
        None,
        "",
        "00-not-a-trace-01",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    ):
        assert trace_id_of(bad) is None, bad


def test_with_opentelemetry_the_client_sends_its_spans_context() -> None:
    _provider()
    tracer = Tracer(use_otel=True)
    with (
        trace.get_tracer("test").start_as_current_span("cli") as root,
        tracer.client_request("ListWorkflows") as headers,
    ):
        sent = trace_id_of(headers["traceparent"])
    assert sent == format(root.get_span_context().trace_id, "032x")


def test_calls_to_airflow_carry_the_trace_of_the_request_they_are_made_for() -> None:
    _provider()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "t"})
        return httpx.Response(200, json={})

    session = AirflowSession(
        base_url="http://airflow", username="u", password="p", transport=httpx.MockTransport(answer)
    )
    with trace.get_tracer("test").start_as_current_span("request") as span:
        session.call("GET", "/api/v2/dags")
    session.call("GET", "/api/v2/dags")  # outside any trace: nothing to continue
    expected = format(span.get_span_context().trace_id, "032x")
    dag_calls = [r for r in seen if r.url.path == "/api/v2/dags"]
    assert trace_id_of(dag_calls[0].headers.get("traceparent")) == expected
    assert "traceparent" not in dag_calls[1].headers
