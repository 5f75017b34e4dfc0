"""One trace from the library (or CLI) through Basecamp to its dependency calls; its id in the server's logs.

The server runs on loopback in this process, so that the SDK's in-memory exporter sees the spans
of both sides; the trace id in the log lines is checked on a real ``basecamp serve`` process, which
has no tracer provider set: the id comes from the client's ``traceparent`` alone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from dli.adapters.token_file import TokenFile
from dli.entrypoints.api import WorkflowAPI
from dli.entrypoints.bootstrap import build_server
from dli.entrypoints.context import ExecutionContext, ExecutionMode
from dli.entrypoints.server.app import create_app
from tests.support.backends import write_spec
from tests.support.basecamp import free_port, running_basecamp
from tests.support.specs import make_spec


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # set once per process; later tests add to it
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def server(exporter: InMemorySpanExporter, tmp_path: Path) -> Iterator[tuple[str, str]]:
    store = tmp_path / "store"
    store.mkdir()
    tokens = tmp_path / "tokens.json"
    token = TokenFile(tokens).add("alice")
    app = create_app(build_server(store_url=store.as_uri(), tokens_file=tokens, metrics=False))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield url, token
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def test_a_library_call_is_one_trace_through_the_server_to_the_store_and_the_orchestrator(
    server, exporter: InMemorySpanExporter, tmp_path: Path
) -> None:
    url, token = server
    project = tmp_path / "project"
    write_spec(project, make_spec("shop.orders", cron=None))
    api = WorkflowAPI(
        context=ExecutionContext(
            execution_mode=ExecutionMode.SERVER, server_url=url, api_token=token, project_path=project
        )
    )
    exporter.clear()
    with trace.get_tracer("test").start_as_current_span("dli workflow register") as root:
        api.register("shop.orders", cron="0 6 * * *")
    trace_id = root.get_span_context().trace_id
    # The server's span ends once the answer is sent: the client may have it a moment before.
    deadline = time.monotonic() + 10
    while True:
        spans = [span for span in exporter.get_finished_spans() if span.context.trace_id == trace_id]
        by_name = {span.name: span for span in spans}
        if "POST RegisterWorkflow" in by_name or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    client = by_name["basecamp RegisterWorkflow"]
    assert client.kind is SpanKind.CLIENT and client.parent.span_id == root.get_span_context().span_id
    server_span = by_name["POST RegisterWorkflow"]
    assert server_span.kind is SpanKind.SERVER
    assert server_span.parent.span_id == client.context.span_id  # continued from the traceparent sent
    assert server_span.attributes["http.response.status_code"] == 201
    create = by_name["store.create"]
    assert create.parent.span_id == server_span.context.span_id
    assert create.attributes["dli.dependency.kind"] == "file"
    orchestrator_calls = [s for s in spans if s.attributes.get("dli.dependency") == "orchestrator"]
    assert orchestrator_calls, sorted(by_name)
    assert all(s.kind is SpanKind.CLIENT for s in orchestrator_calls)


def test_the_trace_id_of_a_clients_traceparent_is_in_the_servers_log_lines_without_a_tracer(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    for process in running_basecamp(tmp_path / "server", store_url=store.as_uri()):
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        headers = {
            "Authorization": f"Bearer {process.token}",
            "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
        }
        assert httpx.get(f"{process.url}/api/v1/workflows", headers=headers).status_code == 200
        line = process.wait_for_log(
            lambda line, t=trace_id: line.get("event") == "request" and line.get("trace_id") == t
        )
        assert line["path"] == "/api/v1/workflows"
        # A malformed traceparent is ignored, not logged.
        headers["traceparent"] = "00-not-a-trace-01"
        assert httpx.get(f"{process.url}/api/v1/workflows", headers=headers).status_code == 200
        time.sleep(0.3)
        last = [line for line in process.log_lines() if line.get("event") == "request"][-1]
        assert "trace_id" not in last


def test_the_cli_sends_a_traceparent_whose_trace_id_the_server_logs(tmp_path: Path) -> None:
    from tests.support.dli_process import dli_env, run_dli

    store = tmp_path / "store"
    store.mkdir()
    for process in running_basecamp(tmp_path / "server", store_url=store.as_uri()):
        env = dli_env(tmp_path, DLI_MODE="server", DLI_SERVER_URL=process.url, DLI_API_TOKEN=process.token)
        result = run_dli("workflow", "list", "--format", "json", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        line = process.wait_for_log(
            lambda line: line.get("event") == "request" and line.get("path") == "/api/v1/workflows"
        )
        assert len(line["trace_id"]) == 32 and int(line["trace_id"], 16) != 0
        json.loads(result.stdout)


def test_background_work_starts_no_traces_of_its_own(server, exporter: InMemorySpanExporter) -> None:
    # The override check runs every 30 s by default, health probes every few seconds: a dependency
    # span is made only inside a request's trace, never as a trace of its own.
    url, _ = server
    exporter.clear()
    for _ in range(3):
        assert httpx.get(f"{url}/health").status_code == 200
    deadline = time.monotonic() + 10
    while (
        len([s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]) < 3 and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans if s.kind is SpanKind.SERVER] == ["GET health"] * 3
    assert [s.name for s in spans if s.parent is None and s.kind is not SpanKind.SERVER] == []
