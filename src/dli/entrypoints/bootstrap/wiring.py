"""The ``WorkflowAPI`` facade's wiring for each execution mode, and the bus ``publish`` runs on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypedDict, Unpack

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.bootstrap.orchestrators import build_orchestrator
from dli.entrypoints.bootstrap.stores import build_store
from dli.entrypoints.bootstrap.timeouts import env_seconds
from dli.entrypoints.context import ExecutionContext, ExecutionMode

if TYPE_CHECKING:
    from dli.domain.model.spec import DatasetSpec
    from dli.domain.usecases.bus import Handles, MessageBus
    from dli.ports import Clock, LocalSpecs, Orchestrator, SpecStore, SqlAnalyzer
    from dli.ports.audit_log import AuditLog

__all__ = ["Ports", "Wiring", "bootstrap", "build_audit_log", "build_publisher", "sql_analyzer", "system_clock"]


def system_clock(clock: Clock | None) -> Clock:
    """``clock``, or the system's when none is given."""
    if clock is not None:
        return clock
    from dli.adapters.clock import SystemClock

    return SystemClock()


class Wiring(NamedTuple):
    """What a ``WorkflowAPI`` runs on.

    A named tuple rather than an attrs class: every facade is wired here, and creating an attrs
    class costs each CLI start.
    """

    bus: Handles
    """Carries out the workflow messages: in process (MOCK, LOCAL) or through Basecamp (SERVER)."""
    local_specs: LocalSpecs
    """The user's project."""
    publisher: Callable[[str, Path], Handles]
    """A bus from a project to the store at a URL, for ``publish`` (CI writes the store directly)."""
    local_bus: Handles | None = None
    """Carries out what only reads the local project (``validate``), in process in every mode."""


def _bus(
    context: ExecutionContext, *, store: SpecStore | None, orchestrator: Orchestrator | None, clock: Clock | None
) -> Handles:
    from dli.domain.usecases.bus import MessageBus

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
    clock = system_clock(clock)
    if mode is ExecutionMode.MOCK:
        from dli.adapters.simulation.orchestrator import InMemoryOrchestrator
        from dli.adapters.simulation.seed import seed_mock
        from dli.adapters.stores.memory import InMemorySpecStore

        if store is None and orchestrator is None:
            mock_store = InMemorySpecStore()
            mock_orchestrator = InMemoryOrchestrator(clock=clock, store=mock_store)
            seed_mock(mock_store, mock_orchestrator, now=clock.now())
            store, orchestrator = mock_store, mock_orchestrator
        store = store or InMemorySpecStore()
        orchestrator = orchestrator or InMemoryOrchestrator(clock=clock, store=store)
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
                connect_timeout_seconds=env_seconds("DLI_AIRFLOW_CONNECT_TIMEOUT"),
                read_timeout_seconds=env_seconds("DLI_AIRFLOW_READ_TIMEOUT"),
                store=store,
            )
    return MessageBus(
        store=store,
        orchestrator=orchestrator,
        clock=clock,
        sql_analyzer=sql_analyzer(),
        actor=context.user,
        audit=build_audit_log(store),
    )


def build_audit_log(store: object) -> AuditLog:
    """The audit trail kept in ``store`` (``.dli/audit/`` of a filesystem or S3 store; in memory otherwise)."""
    from dli.adapters.stores.audit import audit_log_of

    return audit_log_of(store)


def sql_analyzer() -> SqlAnalyzer:
    """The SQL analyzer (sqlglot, imported on first use), its verdicts kept in the user's cache folder."""
    from dli.adapters.sql import LazySqlAnalyzer

    return LazySqlAnalyzer("user")


def build_publisher(*, store_url: str, project_path: Path, clock: Clock | None = None) -> MessageBus:
    """The bus ``dli workflow publish`` runs on: the project on disk and the store at ``store_url``.

    Raises:
        ConfigurationError: ``project_path`` is not a dli project (no ``dli.yaml``) (DLI-001).
    """
    from dli.adapters.local_project import FilesystemProject
    from dli.domain.usecases.bus import MessageBus

    root = Path(project_path)
    if not (root / "dli.yaml").is_file():
        # Guard: with --prune, publishing an empty directory would delete every code spec.
        raise ConfigurationError(
            f"{root} is not a dli project (no dli.yaml)",
            hints=("Run publish from the project root or pass --path to it.",),
        )
    store = build_store(store_url)
    return MessageBus(
        store=store,
        local_specs=FilesystemProject(root),
        clock=system_clock(clock),
        sql_analyzer=sql_analyzer(),
        audit=build_audit_log(store),
    )


class _ProjectOnFirstUse:
    """The project on disk, opened when a command first reads a spec.

    Most commands (``list``, ``status``, ``history`` ...) never read the local project: they do not
    pay for importing and building its adapter.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._project: LocalSpecs | None = None

    def _opened(self) -> LocalSpecs:
        if self._project is None:
            from dli.adapters.local_project import FilesystemProject

            self._project = FilesystemProject(self._root)
        return self._project

    def find(self, name: str) -> DatasetSpec | None:
        return self._opened().find(name)

    def all(self) -> Sequence[DatasetSpec]:
        return self._opened().all()

    def location(self, name: str) -> str | None:
        return self._opened().location(name)

    def warnings(self) -> tuple[str, ...]:
        return self._project.warnings() if self._project is not None else ()


class Ports(TypedDict, total=False):
    """What a caller may swap in (tests pass fakes); what is not given is wired from the context."""

    bus: Handles
    local_specs: LocalSpecs
    store: SpecStore
    orchestrator: Orchestrator
    clock: Clock


def bootstrap(context: ExecutionContext | None = None, **ports: Unpack[Ports]) -> Wiring:
    """Wire a ``WorkflowAPI`` for ``context``; every port may be swapped (``Ports``)."""
    context = context or ExecutionContext()
    bus, local_specs = ports.get("bus"), ports.get("local_specs")
    store, orchestrator, clock = ports.get("store"), ports.get("orchestrator"), ports.get("clock")
    if bus is None:
        bus = _bus(context, store=store, orchestrator=orchestrator, clock=clock)
    if local_specs is None:
        local_specs = _ProjectOnFirstUse(context.project_path)

    def publisher(store_url: str, project_path: Path) -> Handles:
        return build_publisher(store_url=store_url, project_path=project_path, clock=clock)

    from dli.domain.usecases.bus import MessageBus

    local_bus = MessageBus(local_specs=local_specs, sql_analyzer=sql_analyzer(), actor=context.user)
    return Wiring(bus=bus, local_specs=local_specs, publisher=publisher, local_bus=local_bus)
