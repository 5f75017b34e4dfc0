"""Trace context of each request: a server span (with the ``otel`` extra) and the trace id in its log lines.

The client's W3C ``traceparent`` header is the parent of the request's span, so one trace runs from
the CLI through Basecamp to its dependency calls. Every log line written while the request is
worked on carries ``trace_id`` (structlog context variables): with OpenTelemetry the span's, without
it the one the client's ``traceparent`` names, so logs and traces of a request are found by one id.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import structlog

from dli.entrypoints.server.metrics import request_operation

__all__ = ["TracingMiddleware", "trace_id_of"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_PROPAGATED = (b"traceparent", b"tracestate")


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a W3C ``traceparent`` names, or ``None`` when it is not a valid one."""
    if not traceparent:
        return None
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None or traceparent.startswith("ff") or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return match.group(1)


class Tracer(Protocol):
    """What the middleware needs of ``dli.adapters.tracing.Tracer`` (built by the composition root)."""

    def server_span(self, headers: dict[str, str], method: str, path: str) -> Any: ...


class TracingMiddleware:
    """Opens the request's span and binds its trace id to the request's log lines."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer | None) -> None:
        self._app = app
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", ())
            if key.lower() in _PROPAGATED
        }
        if self._tracer is None:
            trace_id = trace_id_of(headers.get("traceparent"))
            if trace_id is None:
                await self._app(scope, receive, send)
                return
            with structlog.contextvars.bound_contextvars(trace_id=trace_id):
                await self._app(scope, receive, send)
            return
        seen = {"status": 500}

        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
            await send(message)

        method = str(scope.get("method", ""))
        with self._tracer.server_span(headers, method, str(scope.get("path", ""))) as span:
            trace_id = span.trace_id or trace_id_of(headers.get("traceparent"))
            try:
                if trace_id is None:
                    await self._app(scope, receive, watching)
                else:
                    with structlog.contextvars.bound_contextvars(trace_id=trace_id):
                        await self._app(scope, receive, watching)
            finally:
                operation = request_operation(scope)
                span.finish(f"{method} {operation}", seen["status"], {"dli.operation": operation})
