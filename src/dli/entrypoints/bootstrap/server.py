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
    from dli.entrypoints.server.admission import AdmissionLimits
    from dli.entrypoints.server.app import ServerSettings
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
    from dli.adapters.sql import build_sql_analyzer
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.domain.usecases.bus import MessageBus
    from dli.entrypoints.server.app import ServerSettings

    if check_interval_seconds <= 0:
        raise ConfigurationError("--check-interval must be positive")
    if full_check_interval_seconds <= 0:
        raise ConfigurationError("--full-check-interval must be positive")
    clock = system_clock(clock)
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
        # The server checks the SQL of what it is sent; sqlglot is imported now, not on the first request.
        bus=MessageBus(store=indexed, orchestrator=orchestrator, clock=clock, sql_analyzer=build_sql_analyzer()),
        tokens=build_tokens(tokens_file),
        operations=operations(),
        encode=to_jsonable,
        check_interval_seconds=check_interval_seconds,
        orchestrator_url=public_url(orchestrator_url),
        **({"admission": admission} if admission is not None else {}),
    )