"""The orchestrator an URL names: an Airflow API server, or ``memory://`` (simulated runs)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.bootstrap.timeouts import check_timeout

if TYPE_CHECKING:
    from dli.ports import Clock, Orchestrator, SpecStore

__all__ = ["build_orchestrator", "public_url"]


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
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        from dli.adapters.simulation.orchestrator import InMemoryOrchestrator

        return InMemoryOrchestrator.from_url(url, clock=clock, store=store)
    if scheme in ("http", "https"):
        from dli.adapters.airflow import session
        from dli.adapters.airflow.orchestrator import AirflowOrchestrator

        return AirflowOrchestrator(
            base_url=url,
            username=username,
            password=password,
            timeout_seconds=timeout_seconds,
            clock=clock,
            connect_timeout_seconds=session.DEFAULT_CONNECT_TIMEOUT
            if connect_timeout_seconds is None
            else connect_timeout_seconds,
            read_timeout_seconds=session.DEFAULT_READ_TIMEOUT if read_timeout_seconds is None else read_timeout_seconds,
        )
    raise ConfigurationError(
        f"Unknown orchestrator URL {public_url(url)!r}",
        hints=("Use memory:// or the Airflow API server's http(s) URL.",),
    )


def public_url(url: str) -> str:
    """``url`` without credentials, query or fragment, for logs and messages."""
    from dli.adapters.urls import display_url

    return display_url(url)
