"""Traces: W3C trace context on the wire, OpenTelemetry spans when the ``otel`` extra is installed.

- ``configure_from_env``: the OpenTelemetry SDK set up from the standard ``OTEL_*`` variables
  (``OTEL_TRACES_EXPORTER`` = ``otlp`` / ``console`` / ``none``, ``OTEL_SERVICE_NAME``,
  ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``...), unless a tracer provider is already
  set (``opentelemetry-instrument``, an embedding application, a test);
- ``Tracer``: a server span per request (its parent from the client's ``traceparent``), a client
  span per dependency call (the store, the orchestrator), and the ``traceparent`` a client sends.

Without the extra, or with no tracer provider set, nothing is recorded; a client still sends a
``traceparent`` (a new trace per request) so that the server's log lines of one request carry the
trace id the client knows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["SpanHandle", "Tracer", "configure_from_env", "inject_trace_context", "new_traceparent"]

_INSTRUMENTATION = "dli"


def new_traceparent() -> str:
    """A W3C ``traceparent`` starting a new, sampled trace."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _otel() -> Any | None:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace


def configure_from_env() -> bool:
    """Set the global tracer provider from ``OTEL_*`` (once); whether spans are now exported.

    ``OTEL_SDK_DISABLED=true`` or no ``OTEL_TRACES_EXPORTER``: nothing is set up (spans cost nothing).
    """
    trace = _otel()
    if trace is None or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True  # someone set one up already: theirs
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names or names == ["none"]:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
        )
    except ImportError:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "basecamp")})
    )
    for name in names:
        if name == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif name == "otlp":
            exporter = _otlp_exporter()
            if exporter is not None:
                provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


def _otlp_exporter() -> Any | None:
    """The OTLP exporter the installed package offers (its endpoint from ``OTEL_EXPORTER_OTLP_*``)."""
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", ""))
    with contextlib.suppress(ImportError):
        if protocol != "grpc":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                OTLPSpanExporter,
            )

            return OTLPSpanExporter()
    with contextlib.suppress(ImportError):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    return None


def inject_trace_context(request: Any) -> None:
    """An httpx request hook: the current trace context in its headers (``traceparent``), so that a
    traced service called on a request's behalf (Airflow) continues the request's trace.

    Free when OpenTelemetry is not in use (nothing imported, nothing sent).
    """
    if "opentelemetry.propagate" not in sys.modules:
        return
    from opentelemetry import propagate

    propagate.inject(request.headers)


class SpanHandle:
    """The span of one request, as the server middleware sees it."""

    def __init__(self, span: Any | None) -> None:
        self._span = span

    @property
    def trace_id(self) -> str | None:
        """The trace id (32 hex digits) when the span is recorded."""
        if self._span is None:
            return None
        context = self._span.get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    def finish(self, name: str, status: int, attributes: Mapping[str, str | int]) -> None:
        """Name the span after its operation (known once routed) and record its answer."""
        if self._span is None or not self._span.is_recording():
            return
        self._span.update_name(name)
        self._span.set_attribute("http.response.status_code", status)
        for key, value in attributes.items():
            self._span.set_attribute(key, value)
        if status >= 500:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR))


class Tracer:
    """Spans of the server and of the client; no-ops without OpenTelemetry."""

    def __init__(self, *, use_otel: bool | None = None) -> None:
        """``use_otel``: ``None`` when OpenTelemetry is already imported (an application or a test set
        it up) or ``OTEL_TRACES_EXPORTER`` asks for it; a CLI without either never imports it."""
        if use_otel is None:
            use_otel = "opentelemetry.trace" in sys.modules or bool(os.environ.get("OTEL_TRACES_EXPORTER"))
            if use_otel:
                configure_from_env()
        trace = _otel() if use_otel else None
        self._tracer = trace.get_tracer(_INSTRUMENTATION) if trace is not None else None

    @property
    def recording(self) -> bool:
        """Whether spans are made (OpenTelemetry is in use)."""
        return self._tracer is not None

    @contextlib.contextmanager
    def server_span(self, headers: Mapping[str, str], method: str, path: str) -> Iterator[SpanHandle]:
        """A server span for one request, continuing the trace of the client's ``traceparent``."""
        if self._tracer is None:
            yield SpanHandle(None)
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind

        parent = propagate.extract(dict(headers))
        with self._tracer.start_as_current_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
            record_exception=False,
        ) as span:
            yield SpanHandle(span)

    @contextlib.contextmanager
    def observe_call(self, dependency: str, kind: str, operation: str) -> Iterator[None]:
        """A client span around one dependency call (``dli.adapters.instrumented.CallObserver``).

        Only inside a trace (a request's): the periodic override check and the health probes would
        otherwise start a new trace every few seconds.
        """
        if self._tracer is None:
            yield
            return
        from opentelemetry.trace import SpanKind, get_current_span

        if not get_current_span().get_span_context().is_valid:
            yield
            return

        with self._tracer.start_as_current_span(
            f"{dependency}.{operation}",
            kind=SpanKind.CLIENT,
            attributes={"dli.dependency": dependency, "dli.dependency.kind": kind, "dli.operation": operation},
        ):
            yield

    @contextlib.contextmanager
    def client_request(self, operation: str) -> Iterator[dict[str, str]]:
        """A client span around one call to Basecamp; yields the headers carrying its trace context."""
        if self._tracer is not None:
            from opentelemetry import propagate
            from opentelemetry.trace import SpanKind

            with self._tracer.start_as_current_span(f"basecamp {operation}", kind=SpanKind.CLIENT) as span:
                if span.get_span_context().is_valid:
                    headers: dict[str, str] = {}
                    propagate.inject(headers)
                    yield headers
                    return
                yield {"traceparent": new_traceparent()}
            return
        yield {"traceparent": new_traceparent()}
