"""Prometheus metrics of the Basecamp server (``GET /metrics``), from the optional ``metrics`` extra.

What is measured (names in docs/operations.md, "What to monitor"):

- every request: by operation (the message class of its route, ``health``, ``metrics``, or ``none``
  when it was refused before routing), method, status and DLI code; its duration;
- every call to a dependency (the store, the orchestrator), by kind (``s3``, ``file``, ``airflow``,
  ``memory``), operation and outcome (``ok`` or the DLI code); its duration. The composition root
  wraps the ports (``dli.adapters.instrumented``) and passes ``observe_call``;
- admission: requests in flight and queued (sampled at each request and scrape), refusals by reason,
  the time requests waited for a slot;
- the index: specs and broken documents as of the last check, each check's duration and outcome,
  and when the last check succeeded (the index is that old: the change-feed lag);
- authentication failures by reason.

With ``basecamp serve --workers N`` every worker writes its values to ``PROMETHEUS_MULTIPROC_DIR``
(set by ``serve``) and a scrape, answered by any worker, adds them up (prometheus_client's
multiprocess mode): counts are the server's, not one worker's.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from dli.domain.model.errors import DLIError, ErrorCode
from dli.entrypoints.server.admission import CLIENT_GONE_SCOPE_KEY, QUEUED_MS_SCOPE_KEY

if TYPE_CHECKING:
    from dli.entrypoints.server.admission import AdmissionControl

__all__ = ["MULTIPROC_ENV", "MetricsMiddleware", "ServerMetrics", "metrics_available", "request_operation"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Requests: a cached list answers in about a millisecond, a write to S3 takes a tenth of a second,
# a hung dependency up to the 10 s read timeout.
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CHECK_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


def metrics_available() -> bool:
    """Whether prometheus-client is installed (``pip install 'dli[metrics]'``)."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return False
    return True


def outcome_of(exc: BaseException | None) -> str:
    """``ok``, the DLI code of a DLI error, or ``error``: few label values, each one actionable."""
    if exc is None:
        return "ok"
    if isinstance(exc, DLIError):
        return exc.code.value
    return "error"


class ServerMetrics:
    """The server's metrics, in their own registry (several apps may live in one test process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry

        # Every metric lives in this registry; a gauge says how a multiprocess scrape adds up the workers'.
        def counter(name: str, doc: str, labels: list[str]) -> Any:
            return Counter(name, doc, labels, registry=r)

        def histogram(name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Any:
            return Histogram(name, doc, labels, buckets=buckets, registry=r)

        def gauge(name: str, doc: str, mode: Literal["livesum", "livemax", "livemin"]) -> Any:
            return Gauge(name, doc, registry=r, multiprocess_mode=mode)

        self.requests = counter(
            "dli_requests",
            "HTTP requests answered, by operation, method, status and DLI error code ('' on success)",
            ["operation", "method", "status", "code"],
        )
        self.request_seconds = histogram(
            "dli_request_duration_seconds",
            "Time from a request's arrival to its last byte, by operation",
            ["operation"],
            _REQUEST_BUCKETS,
        )
        self.dependency_calls = counter(
            "dli_dependency_calls",
            "Calls to the spec store and the orchestrator, by outcome ('ok' or the DLI code)",
            ["dependency", "kind", "operation", "outcome"],
        )
        self.dependency_seconds = histogram(
            "dli_dependency_call_duration_seconds",
            "Duration of calls to the spec store and the orchestrator",
            ["dependency", "kind", "operation"],
            _REQUEST_BUCKETS,
        )
        self.in_flight = gauge(
            "dli_admission_in_flight", "Requests being worked on (sampled at each request and scrape)", "livesum"
        )
        self.queued = gauge(
            "dli_admission_queued", "Requests waiting for a free slot (sampled at each request and scrape)", "livesum"
        )
        self.rejections = counter(
            "dli_admission_rejections",
            "Requests not worked on: queue_full and queue_timeout (answered 503), client_gone (left while waiting)",
            ["reason"],
        )
        self.wait_seconds = histogram(
            "dli_admission_wait_seconds",
            "Time a request waited for a free slot (only those that waited)",
            [],
            (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.index_specs = gauge("dli_index_workflows", "Workflows in the index, as of the last check", "livemax")
        self.index_broken = gauge(
            "dli_index_broken_documents", "Stored documents that cannot be read, as of the last check", "livemax"
        )
        self.index_check_seconds = histogram(
            "dli_index_check_duration_seconds",
            "Duration of the periodic override check, by outcome",
            ["outcome"],
            _CHECK_BUCKETS,
        )
        self.index_last_success = gauge(
            "dli_index_last_success_timestamp_seconds",
            "When the index last caught up with the store (now minus this: how stale the index is)",
            "livemin",
        )
        self.auth_failures = counter(
            "dli_auth_failures", "Requests refused for their credentials, by reason", ["reason"]
        )
        self._admission_seen = (0, 0, 0)
        # The labelled children, looked up once: ``labels()`` costs about as much as the update itself.
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    # -- dependency calls ------------------------------------------------------------------------

    @contextlib.contextmanager
    def observe_call(self, dependency: str, kind: str, operation: str) -> Iterator[None]:
        """Count and time one call to a dependency (``dli.adapters.instrumented.CallObserver``)."""
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.child(self.dependency_seconds, dependency, kind, operation).observe(time.perf_counter() - started)
            self.child(self.dependency_calls, dependency, kind, operation, outcome_of(error)).inc()

    # -- the index -------------------------------------------------------------------------------

    def index_checked(self, seconds: float, error: BaseException | None, *, workflows: int, broken: int) -> None:
        """One override check done (``error``: why it failed)."""
        outcome = outcome_of(error)
        self.index_check_seconds.labels(outcome).observe(seconds)
        if error is None:
            self.index_specs.set(workflows)
            self.index_broken.set(broken)
            self.index_last_success.set(time.time())

    # -- admission -------------------------------------------------------------------------------

    def sample_admission(self, admission: AdmissionControl) -> None:
        """Queue depth now, and the refusals since the last sample (the admission control counts them).

        Sampled when a request ends (and at each scrape): a queue that builds up is seen as the
        requests that waited in it end.
        """
        stats = admission.stats
        self.in_flight.set(stats.in_flight)
        self.queued.set(stats.queued)
        counts = (stats.refused, stats.timed_out, stats.abandoned)
        for reason, now, before in zip(
            ("queue_full", "queue_timeout", "client_gone"), counts, self._admission_seen, strict=True
        ):
            if now > before:
                self.rejections.labels(reason).inc(now - before)
        self._admission_seen = counts

    # -- exposition ------------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The scrape's body and content type: every worker's values in multiprocess mode."""
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            CollectorRegistry,
            generate_latest,
        )

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """This process stops: its live gauges no longer count (multiprocess mode)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            with contextlib.suppress(Exception):  # the process is ending anyway
                multiprocess.mark_process_dead(os.getpid())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def request_operation(scope: Scope) -> str:
    handler = scope.get("route_handler")
    if handler is None:
        return "none"  # refused before routing (credentials, load) or no such route
    return str(getattr(handler, "name", None) or getattr(handler, "handler_name", None) or "unknown")


def _error_code(body: bytes) -> str:
    try:
        decoded = msgspec.json.decode(body)
        code = decoded["error"]["code"]
    except (msgspec.DecodeError, KeyError, TypeError):
        return "unknown"
    return code if isinstance(code, str) and len(code) <= 16 else "unknown"


def _auth_reason(scope: Scope, status: int) -> str:
    if status == 403:
        return "forbidden"
    scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
    if not scheme:
        return "missing_token"
    if scheme.lower() != "bearer" or not token.strip():
        return "malformed_header"
    return "invalid_token"


class MetricsMiddleware:
    """Outermost ASGI middleware: counts and times every request, whoever answers it."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics, admission: AdmissionControl | None = None) -> None:
        self._app = app
        self._metrics = metrics
        self._admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        seen: dict[str, Any] = {"status": 500}

        async def watching(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                seen["status"] = message["status"]
                seen["started"] = True
            elif kind == "http.response.body" and seen["status"] >= 400:
                seen["body"] = seen.get("body", b"") + message.get("body", b"")  # error bodies are small
            await send(message)

        try:
            await self._app(scope, receive, watching)
        finally:
            self._record(scope, seen, time.perf_counter() - started)

    def _record(self, scope: Scope, seen: dict[str, Any], seconds: float) -> None:
        metrics = self._metrics
        status = seen["status"]
        if scope.get(CLIENT_GONE_SCOPE_KEY) and "started" not in seen:
            status = 499
        code = _error_code(seen.get("body", b"")) if status >= 400 and "body" in seen else ""
        operation = request_operation(scope)
        metrics.child(metrics.requests, operation, scope.get("method", ""), str(status), code).inc()
        metrics.child(metrics.request_seconds, operation).observe(seconds)
        if status == 401 or code == ErrorCode.AUTH_FAILED.value:
            metrics.auth_failures.labels(_auth_reason(scope, status)).inc()
        queued_ms = scope.get(QUEUED_MS_SCOPE_KEY)
        if queued_ms is not None:
            metrics.wait_seconds.observe(queued_ms / 1000)
        if self._admission is not None:
            metrics.sample_admission(self._admission)
