"""The composition root: the one place where adapters are chosen and wired.

Nothing is built at import time, and heavy adapters (httpx, boto3) are imported only when a mode
needs them, so that ``dli --help`` and MOCK mode stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.context import ExecutionContext, ExecutionMode

if TYPE_CHECKING:
    from dli.entrypoints.api import WorkflowAPI
    from dli.ports import Clock, ControlPlane, LocalSpecs, Orchestrator, SpecStore

__all__ = ["bootstrap", "build_control_plane", "build_orchestrator", "build_store"]


def build_store(url: str) -> SpecStore:
    """The spec store for ``memory://``, ``file:///path`` or ``s3://bucket/prefix`` (DLI-001 otherwise)."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from dli.adapters.stores.memory import InMemorySpecStore

        return InMemorySpecStore(url=url)
    if scheme == "file":
        from dli.adapters.stores.filesystem import FilesystemSpecStore

        return FilesystemSpecStore.from_url(url)
    if scheme == "s3":
        from dli.adapters.stores.s3 import S3SpecStore

        return S3SpecStore.from_url(url)
    raise ConfigurationError(
        f"Unknown spec store URL {url!r}",
        hints=("Use memory://, file:///absolute/path or s3://bucket/prefix.",),
    )


def build_orchestrator(
    url: str,
    *,
    clock: Clock,
    username: str | None = None,
    password: str | None = None,
    timeout_seconds: float = 30.0,
) -> Orchestrator:
    """The orchestrator for ``memory://`` (simulated) or an Airflow API server URL."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from dli.adapters.simulation.orchestrator import InMemoryOrchestrator

        return InMemoryOrchestrator(clock=clock)
    if scheme in ("http", "https"):
        from dli.adapters.airflow.orchestrator import AirflowOrchestrator

        return AirflowOrchestrator(
            base_url=url, username=username, password=password, timeout_seconds=timeout_seconds, clock=clock
        )
    raise ConfigurationError(
        f"Unknown orchestrator URL {url!r}", hints=("Use memory:// or the Airflow API server's http(s) URL.",)
    )


def build_control_plane(
    context: ExecutionContext,
    *,
    store: SpecStore | None = None,
    orchestrator: Orchestrator | None = None,
    clock: Clock | None = None,
) -> ControlPlane:
    """The control plane for the context's mode; any port given replaces the default adapter."""
    from dli.adapters.clock import SystemClock
    from dli.domain.usecases.control_plane import InProcessControlPlane

    clock = clock or SystemClock()
    mode = context.execution_mode
    if mode is ExecutionMode.SERVER:
        if not context.server_url:
            raise ConfigurationError(
                "server_url required for SERVER mode",
                hints=("Pass --server URL, set DLI_SERVER_URL, or use --mode mock.",),
            )
        from dli.adapters.basecamp.client import BasecampClient

        return BasecampClient(
            base_url=context.server_url, token=context.api_token, timeout_seconds=context.timeout_seconds
        )
    if mode is ExecutionMode.MOCK:
        from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
        from dli.adapters.stores.memory import InMemorySpecStore
        from dli.adapters.simulation.seed import seed_mock

        if store is None and orchestrator is None:
            mock_store, mock_orchestrator = InMemorySpecStore(), InMemoryOrchestrator(clock=clock)
            seed_mock(mock_store, mock_orchestrator, now=clock.now())
            store, orchestrator = mock_store, mock_orchestrator
        store = store or InMemorySpecStore()
        orchestrator = orchestrator or InMemoryOrchestrator(clock=clock)
    else:  # LOCAL
        if store is None:
            if not context.store_url:
                raise ConfigurationError("store_url required for LOCAL mode", hints=("Set DLI_STORE_URL.",))
            store = build_store(context.store_url)
        if orchestrator is None:
            if not context.airflow_url:
                raise ConfigurationError("airflow_url required for LOCAL mode", hints=("Set DLI_AIRFLOW_URL.",))
            orchestrator = build_orchestrator(
                context.airflow_url,
                clock=clock,
                username=context.airflow_username,
                password=context.airflow_password,
                timeout_seconds=context.timeout_seconds,
            )
    return InProcessControlPlane(store=store, orchestrator=orchestrator, clock=clock, actor=context.user)


def bootstrap(
    context: ExecutionContext | None = None,
    *,
    control_plane: ControlPlane | None = None,
    local_specs: LocalSpecs | None = None,
    store: SpecStore | None = None,
    orchestrator: Orchestrator | None = None,
    clock: Clock | None = None,
) -> WorkflowAPI:
    """Build a ``WorkflowAPI``; every port may be swapped (tests pass fakes here)."""
    from dli.entrypoints.api import WorkflowAPI

    context = context or ExecutionContext()
    if control_plane is None:
        control_plane = build_control_plane(context, store=store, orchestrator=orchestrator, clock=clock)
    if local_specs is None:
        from dli.adapters.local_project import FilesystemProject

        local_specs = FilesystemProject(context.project_path)
    return WorkflowAPI(context, control_plane=control_plane, local_specs=local_specs)
