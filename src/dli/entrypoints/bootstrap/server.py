"""What ``basecamp serve`` (and the server tests) run on, and the API tokens file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.bootstrap.orchestrators import build_orchestrator, public_url
from dli.entrypoints.bootstrap.stores import build_store
from dli.entrypoints.bootstrap.wiring import system_clock

if TYPE_CHECKING:
    from dli.adapters.token_file import TokenFile
    from dli.adapters.tracing import Tracer
    from dli.entrypoints.server.admission import AdmissionLimits
    from dli.entrypoints.server.app import ServerSettings
    from dli.entrypoints.server.metrics import ServerMetrics
    from dli.ports import Clock, Orchestrator, SpecStore

__all__ = ["build_server", "build_tokens"]


def build_tokens(path: Path) -> TokenFile:
    """The API tokens file (only hashes are stored)."""
    from dli.adapters.token_file import TokenFile

    return TokenFile(path)


def build_server(
    *,
    store_url: str = "memory://",
    orchestrator_url: str = "memory://",
    tokens_file: Path,
    check_interval_seconds: float = 30.0,
    full_check_interval_seconds: float = 300.0,
    airflow_username: str | None = None,
    airflow_password: str | None = None,
    airflow_connect_timeout_seconds: float | None = None,
    airflow_read_timeout_seconds: float | None = None,
    store_connect_timeout_seconds: float | None = None,
    store_read_timeout_seconds: float | None = None,
    store: SpecStore | None = None,
    orchestrator: Orchestrator | None = None,
    clock: Clock | None = None,
    state_ttl_seconds: float = 5.0,
    admission: AdmissionLimits | None = None,
    metrics: bool | None = None,
    metrics_need_token: bool = False,
) -> ServerSettings:
    """Everything ``basecamp serve`` (and the server tests) run: an indexed store, the bus, the API table.

    The timeouts (seconds; ``None``: the adapters' 3 s to connect, 10 s to read) bound how long a
    request waits for a hung Airflow or S3 endpoint: the slowest answer naming a dependency at fault
    stays well below the clients' own 30 s, so that they never blame the server instead.

    The orchestrator is wrapped so that list rows' run state is cached for ``state_ttl_seconds``
    and never waits long for a slow or unreachable Airflow (``CachingOrchestrator``).

    ``metrics``: serve Prometheus metrics at ``/metrics`` (``None``: when prometheus-client is
    installed); the store and the orchestrator are then wrapped so that every call to them is
    counted and timed. ``metrics_need_token``: ``/metrics`` asks for a bearer token like the API.
    """
    from dli.adapters.basecamp.operations import operations
    from dli.adapters.codecs.results import to_jsonable
    from dli.adapters.orchestrator_cache import CachingOrchestrator
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.domain.usecases.bus import MessageBus
    from dli.entrypoints.server.app import ServerSettings

    if check_interval_seconds <= 0:
        raise ConfigurationError("--check-interval must be positive")
    if full_check_interval_seconds <= 0:
        raise ConfigurationError("--full-check-interval must be positive")
    clock = system_clock(clock)
    observer = _observer(metrics)
    tracer = _tracer()
    observers = [
        *([observer.observe_call] if observer is not None else []),
        *([tracer.observe_call] if tracer is not None else []),
    ]
    if store is None:
        store = build_store(
            store_url,
            connect_timeout_seconds=store_connect_timeout_seconds,
            read_timeout_seconds=store_read_timeout_seconds,
        )
    if observers:
        from dli.adapters.instrumented import combined, instrumented_store

        store = instrumented_store(store, combined(*observers))
    indexed = IndexedSpecStore(store, now=clock.now, full_check_interval_seconds=full_check_interval_seconds)
    if orchestrator is None:
        orchestrator = build_orchestrator(
            orchestrator_url,
            clock=clock,
            username=airflow_username,
            password=airflow_password,
            connect_timeout_seconds=airflow_connect_timeout_seconds,
            read_timeout_seconds=airflow_read_timeout_seconds,
            store=indexed,
        )
    if observers:
        from dli.adapters.instrumented import InstrumentedOrchestrator, combined

        kind = "memory" if orchestrator_url.startswith("memory:") else "airflow"
        orchestrator = InstrumentedOrchestrator(orchestrator, combined(*observers), kind=kind)
    orchestrator = CachingOrchestrator(orchestrator, ttl_seconds=state_ttl_seconds)
    return ServerSettings(
        store=indexed,
        orchestrator=orchestrator,
        bus=MessageBus(store=indexed, orchestrator=orchestrator, clock=clock),
        tokens=build_tokens(tokens_file),
        operations=operations(),
        encode=to_jsonable,
        check_interval_seconds=check_interval_seconds,
        orchestrator_url=public_url(orchestrator_url),
        **({"admission": admission} if admission is not None else {}),
        metrics=observer,
        metrics_need_token=metrics_need_token,
        tracer=tracer,
    )


def _tracer() -> Tracer | None:
    """OpenTelemetry spans when the ``otel`` extra is installed and ``OTEL_*`` (or the embedding
    application) set a tracer provider up; ``None`` otherwise."""
    from dli.adapters.tracing import Tracer

    tracer = Tracer()
    return tracer if tracer.recording else None


def _observer(metrics: bool | None) -> ServerMetrics | None:
    """The server's metrics when asked for (``None``: if prometheus-client is installed)."""
    from dli.entrypoints.server.metrics import ServerMetrics, metrics_available

    if metrics is False:
        return None
    if not metrics_available():
        if metrics:
            raise ConfigurationError(
                "Metrics need prometheus-client",
                hints=("pip install 'dli[metrics]', or start the server with --no-metrics.",),
            )
        return None
    return ServerMetrics()