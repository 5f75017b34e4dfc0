"""The composition root: the one module that chooses and wires adapters.

Every entrypoint gets its adapters from here (an import-linter contract keeps it so): the
``WorkflowAPI`` facade (``bootstrap``), the Basecamp server (``build_server``), the ``basecamp token``
commands (``build_tokens``), ``dli workflow publish`` (``build_publisher``), the DAG factory and the
dev stack (``build_store``). Store URLs go through one registry of schemes (``STORE_SCHEMES``).

Nothing is built at import time, and heavy adapters (httpx, boto3, YAML) are imported only when a
mode needs them, so that ``dli --help`` and MOCK mode stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.context import ExecutionContext, ExecutionMode

if TYPE_CHECKING:
    from dli.adapters.config_file import ConfigValues
    from dli.adapters.token_file import TokenFile
    from dli.domain.usecases.bus import Handles, MessageBus
    from dli.entrypoints.server.admission import AdmissionLimits
    from dli.entrypoints.server.app import ServerSettings
    from dli.domain.model.enums import SourceType
    from dli.domain.model.spec import DatasetSpec
    from dli.ports import Clock, LocalSpecs, Orchestrator, SpecStore

__all__ = [
    "STORE_SCHEMES",
    "Wiring",
    "bootstrap",
    "build_orchestrator",
    "build_publisher",
    "build_server",
    "build_factory_store",
    "warm_factory",
    "build_store",
    "build_tokens",
    "check_timeout",
    "json_ready",
    "public_url",
    "read_project_server",
    "read_user_config",
]


# -- spec stores -------------------------------------------------------------------------------------


def _memory_store(url: str, **_timeouts: float | None) -> SpecStore:
    from dli.adapters.stores.memory import InMemorySpecStore

    return InMemorySpecStore(url=url)


def _file_store(url: str, **_timeouts: float | None) -> SpecStore:
    from dli.adapters.stores.filesystem import FilesystemSpecStore

    return FilesystemSpecStore.from_url(url)


def _s3_store(
    url: str, *, connect_timeout_seconds: float | None = None, read_timeout_seconds: float | None = None
) -> SpecStore:
    from dli.adapters.stores.s3 import S3SpecStore

    timeouts = {
        key: value
        for key, value in (("connect_timeout", connect_timeout_seconds), ("read_timeout", read_timeout_seconds))
        if value is not None
    }
    return S3SpecStore.from_url(url, **timeouts)


STORE_SCHEMES: Mapping[str, Callable[..., SpecStore]] = {
    "memory": _memory_store,
    "file": _file_store,
    "s3": _s3_store,
}
"""URL scheme -> the spec store it names; the server, LOCAL mode, publish and the DAG factory use it.

Each factory takes the URL and the keyword arguments ``connect_timeout_seconds`` and
``read_timeout_seconds`` (``None``: the adapter's default); stores that do no network I/O ignore them.
"""


def check_timeout(value: float | None, what: str) -> float | None:
    """``value`` if it is a usable timeout in seconds (or ``None``: the default), else DLI-001 naming ``what``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ConfigurationError(
            f"{what} must be a positive number of seconds, got {value!r}",
            hints=("Keep each dependency's timeouts well below the clients' own (30 s by default).",),
        )
    return float(value)


def build_store(
    url: str, *, connect_timeout_seconds: float | None = None, read_timeout_seconds: float | None = None
) -> SpecStore:
    """The spec store for ``memory://``, ``file:///path`` or ``s3://bucket/prefix`` (DLI-001 otherwise).

    The timeouts (seconds; ``None``: the adapter's, 3 s to connect and 10 s to read) bound what a
    hung or unreachable S3 endpoint costs a request.
    """
    factory = STORE_SCHEMES.get(urlsplit(url).scheme)
    if factory is None:
        raise ConfigurationError(
            f"Unknown spec store URL {public_url(url)!r}",
            hints=("Use memory://, file:///absolute/path or s3://bucket/prefix.",),
        )
    return factory(
        url,
        connect_timeout_seconds=check_timeout(connect_timeout_seconds, "The store's connect timeout"),
        read_timeout_seconds=check_timeout(read_timeout_seconds, "The store's read timeout"),
    )


def build_factory_store(
    url: str,
    *,
    cache_dir: Path | None = None,
    listed: Mapping[SourceType, Mapping[str, str]] | None = None,
    full_listing_interval_seconds: float = 300.0,
) -> SpecStore:
    """The store as the DAG factory reads it: ``s3://`` through a disk cache refreshed by ETag.

    ``listed``: the etags of a listing made elsewhere (the DAG bundle's index): the cache serves
    those versions without listing S3 again. Between two full listings, at most
    ``full_listing_interval_seconds`` apart, an instance kept across listings (the bundle's) reads
    the store's change feed instead.
    """
    store = build_store(url)
    if urlsplit(url).scheme != "s3":
        return store
    from dli.adapters.stores.cached import DiskCachedSpecStore, default_cache_dir

    return DiskCachedSpecStore(
        store, cache_dir=cache_dir or default_cache_dir(url), listed=listed,
        full_listing_interval_seconds=full_listing_interval_seconds,
    )


def warm_factory() -> None:
    """Do in this process what the DAG factory's first spec read would (the spec codec builds its
    converters, ~70 ms), so that the processes forked from it (the DAG processor's parsers) do not."""
    from dli.adapters.codecs.specs import warm_up

    warm_up()


# -- orchestrators -----------------------------------------------------------------------------------


def build_orchestrator(
    url: str,
    *,
    clock: Clock,
    username: str | None = None,
    password: str | None = None,
    timeout_seconds: float | None = None,
    connect_timeout_seconds: float | None = None,
    read_timeout_seconds: float | None = None,
    store: SpecStore | None = None,
) -> Orchestrator:
    """The orchestrator for an Airflow API server URL, or ``memory://`` (simulated runs).

    ``memory://?queue_seconds=0.1&run_seconds=0.2`` makes simulated runs fast (tests, demos). The
    simulation reads ``store`` as Airflow's DAG factory would, to start upstream-scheduled workflows.
    Airflow's ``connect_timeout_seconds`` and ``read_timeout_seconds`` (``None``: the adapter's, 3 s
    and 10 s) bound what a hung or unreachable Airflow costs a request; ``timeout_seconds``, a
    caller's own patience (LOCAL mode's request timeout), caps both.
    """
    connect_timeout_seconds = check_timeout(connect_timeout_seconds, "Airflow's connect timeout")
    read_timeout_seconds = check_timeout(read_timeout_seconds, "Airflow's read timeout")
    parts = urlsplit(url)
    if parts.scheme == "memory":
        from dli.adapters.simulation.orchestrator import InMemoryOrchestrator

        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            timings = {k: float(options.pop(k)) for k in ("queue_seconds", "run_seconds") if k in options}
        except ValueError:
            raise ConfigurationError(f"Invalid orchestrator URL {url!r}: timings must be numbers") from None
        if options:
            raise ConfigurationError(f"Unknown option(s) in {url!r}: {', '.join(sorted(options))}")
        return InMemoryOrchestrator(clock=clock, store=store, **timings)
    if parts.scheme in ("http", "https"):
        from dli.adapters.airflow.orchestrator import AirflowOrchestrator

        timeouts = {
            key: value
            for key, value in (
                ("connect_timeout_seconds", connect_timeout_seconds),
                ("read_timeout_seconds", read_timeout_seconds),
            )
            if value is not None
        }
        return AirflowOrchestrator(
            base_url=url, username=username, password=password, timeout_seconds=timeout_seconds, clock=clock, **timeouts
        )
    raise ConfigurationError(
        f"Unknown orchestrator URL {public_url(url)!r}",
        hints=("Use memory:// or the Airflow API server's http(s) URL.",),
    )


def public_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for logs and messages."""
    from dli.adapters.urls import display_url

    return display_url(url)


def _clock(clock: Clock | None) -> Clock:
    if clock is not None:
        return clock
    from dli.adapters.clock import SystemClock

    return SystemClock()


# -- the facade's wiring -----------------------------------------------------------------------------


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
    clock = _clock(clock)
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
                connect_timeout_seconds=_env_seconds("DLI_AIRFLOW_CONNECT_TIMEOUT"),
                read_timeout_seconds=_env_seconds("DLI_AIRFLOW_READ_TIMEOUT"),
                store=store,
            )
    return MessageBus(store=store, orchestrator=orchestrator, clock=clock, actor=context.user)


def _env_seconds(name: str) -> float | None:
    """A timeout from the environment (LOCAL mode reads what ``basecamp serve`` reads), or ``None``."""
    import os

    value = os.environ.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}") from None


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
    return MessageBus(store=build_store(store_url), local_specs=FilesystemProject(root), clock=_clock(clock))


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

    def warnings(self) -> tuple[str, ...]:
        return self._project.warnings() if self._project is not None else ()


def bootstrap(
    context: ExecutionContext | None = None,
    *,
    bus: Handles | None = None,
    local_specs: LocalSpecs | None = None,
    store: SpecStore | None = None,
    orchestrator: Orchestrator | None = None,
    clock: Clock | None = None,
) -> Wiring:
    """Wire a ``WorkflowAPI`` for ``context``; every port may be swapped (tests pass fakes here)."""
    context = context or ExecutionContext()
    if bus is None:
        bus = _bus(context, store=store, orchestrator=orchestrator, clock=clock)
    if local_specs is None:
        local_specs = _ProjectOnFirstUse(context.project_path)

    def publisher(store_url: str, project_path: Path) -> Handles:
        return build_publisher(store_url=store_url, project_path=project_path, clock=clock)

    return Wiring(bus=bus, local_specs=local_specs, publisher=publisher)


# -- the server --------------------------------------------------------------------------------------


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
) -> ServerSettings:
    """Everything ``basecamp serve`` (and the server tests) run: an indexed store, the bus, the API table.

    The timeouts (seconds; ``None``: the adapters' 3 s to connect, 10 s to read) bound how long a
    request waits for a hung Airflow or S3 endpoint: the slowest answer naming a dependency at fault
    stays well below the clients' own 30 s, so that they never blame the server instead.

    The orchestrator is wrapped so that list rows' run state is cached for ``state_ttl_seconds``
    and never waits long for a slow or unreachable Airflow (``CachingOrchestrator``).
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
    clock = _clock(clock)
    if store is None:
        store = build_store(
            store_url,
            connect_timeout_seconds=store_connect_timeout_seconds,
            read_timeout_seconds=store_read_timeout_seconds,
        )
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
    )


# -- what the CLI reads and prints -------------------------------------------------------------------


def json_ready(result: Any) -> Any:
    """A result model as JSON-ready data: the shape the server sends and ``--format json`` prints."""
    from dli.adapters.codecs.results import to_jsonable

    return to_jsonable(result)


def read_user_config(path: Path) -> ConfigValues:
    """The user's config file; a missing file is an empty configuration."""
    from dli.adapters import config_file

    # The YAML library is imported only when there is a file (the common case has none).
    return config_file.read_user_config(path) if path.is_file() else config_file.ConfigValues(source=str(path))


def read_project_server(project_path: Path) -> ConfigValues:
    """What the CLI's settings take from the project's ``dli.yaml`` (empty without one): ``server.url``,
    and the warnings about ``server`` (keys that look misspelt, a committed token that is ignored).

    Raises:
        ConfigurationError: A malformed ``server:`` section (DLI-001).
        SpecInvalidError: Another key dli reads is malformed (DLI-203).
    """
    from dli.adapters.config_file import ConfigValues

    path = project_path / "dli.yaml"
    if not path.is_file():
        return ConfigValues(source=str(path))
    from dli.adapters.project_config import read_project_config

    config = read_project_config(project_path)
    return ConfigValues(source=str(path), server_url=config.server_url, warnings=config.server_warnings)
