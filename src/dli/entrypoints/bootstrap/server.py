"""What ``basecamp serve`` (and the server tests) run on, and the API tokens file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dli.domain.model.errors import ConfigurationError
from dli.entrypoints.bootstrap.orchestrators import build_orchestrator, public_url
from dli.entrypoints.bootstrap.stores import build_store
from dli.entrypoints.bootstrap.wiring import build_audit_log, system_clock

if TYPE_CHECKING:
    from dli.adapters.token_file import TokenFile
    from dli.adapters.tracing import Tracer
    from dli.domain.model.access import Identity, Policy
    from dli.entrypoints.server.admission import AdmissionLimits
    from dli.entrypoints.server.app import ServerSettings
    from dli.entrypoints.server.console.oidc import ConsoleOIDC
    from dli.entrypoints.server.identities import Authenticator
    from dli.entrypoints.server.metrics import ServerMetrics
    from dli.ports import Clock, Orchestrator, SpecStore
    from dli.ports.audit_log import AuditLog

__all__ = [
    "build_oidc_verifier",
    "build_server",
    "build_web_sign_in",
    "build_tokens",
    "default_replica",
    "read_policy_file",
]


def read_policy_file(path: Path) -> Policy:
    """The policy of ``basecamp serve --policy`` (DLI-001 when it is not a valid one)."""
    from dli.adapters.policy_file import read_policy

    return read_policy(path)


def build_oidc_verifier(
    issuer: str | None, audience: str | None, *, user_claim: str = "email", groups_claim: str = "groups"
) -> Authenticator:
    """The verifier of the issuer's bearer JWTs (``basecamp serve --oidc-issuer URL --oidc-audience AUD``)."""
    if not issuer or not audience:
        raise ConfigurationError(
            "--oidc-issuer and --oidc-audience go together",
            hints=("The audience is what the issuer puts in 'aud': usually the client id of dli.",),
        )
    try:
        from dli.adapters.oidc import OIDCVerifier
    except ImportError:
        raise ConfigurationError("OIDC sign-in needs the 'oidc' extra", hints=("pip install 'dli[oidc]'",)) from None
    return OIDCVerifier(issuer, audience, user_claim=user_claim, groups_claim=groups_claim)


def build_web_sign_in(
    issuer: str | None, client_id: str | None, *, verify: Callable[[str], Identity | None]
) -> ConsoleOIDC:
    """The web console's sign-in at the issuer (client id: the server's audience; a confidential client's
    secret from ``BASECAMP_OIDC_CLIENT_SECRET``). Its ID tokens are checked by ``verify``, the API's verifier."""
    from dli.adapters.oidc_login import WebSignIn

    assert issuer and client_id  # checked by build_oidc_verifier first
    return WebSignIn(
        issuer, client_id, verify=verify, client_secret=os.environ.get("BASECAMP_OIDC_CLIENT_SECRET") or None
    )


def default_replica() -> str:
    """How audit records name this server process: ``host:pid``."""
    import socket  # only a server names its replica

    return f"{socket.gethostname()}:{os.getpid()}"


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
    policy_file: Path | None = None,
    policy: Policy | None = None,
    audit: AuditLog | None = None,
    replica: str | None = None,
    authenticator: Authenticator | None = None,
    oidc_issuer: str | None = None,
    oidc_audience: str | None = None,
    oidc_user_claim: str = "email",
    oidc_groups_claim: str = "groups",
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
    ``policy_file`` (or ``policy``, for tests) decides who may do what; without either, every
    authenticated caller may do everything. Every write and refusal is recorded in ``audit`` (by
    default the store's own trail, under ``.dli/audit/``), naming ``replica`` (default host:pid).
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
    audit = audit if audit is not None else build_audit_log(store)  # the store's own trail, not counted as its calls
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
    if policy is None and policy_file is not None:
        policy = read_policy_file(policy_file)
    bus = MessageBus(
        store=indexed,
        orchestrator=orchestrator,
        clock=clock,
        policy=policy,
        audit=audit,
        replica=replica or default_replica(),
        # The server checks the SQL of what it is sent; sqlglot is imported now, not on the first request.
        sql_analyzer=build_sql_analyzer(),
    )
    tokens = build_tokens(tokens_file)
    console_oidc = None
    if authenticator is None and (oidc_issuer or oidc_audience):
        from dli.entrypoints.server.identities import FirstOf

        verifier = build_oidc_verifier(
            oidc_issuer, oidc_audience, user_claim=oidc_user_claim, groups_claim=oidc_groups_claim
        )
        authenticator = FirstOf([tokens, verifier])
        console_oidc = build_web_sign_in(oidc_issuer, oidc_audience, verify=authenticator.identity)
    extra: dict[str, Any] = {"admission": admission} if admission is not None else {}
    return ServerSettings(
        store=indexed,
        orchestrator=orchestrator,
        bus=bus,
        tokens=tokens,
        authenticator=authenticator,
        operations=operations(),
        encode=to_jsonable,
        check_interval_seconds=check_interval_seconds,
        orchestrator_url=public_url(orchestrator_url),
        **extra,
        console_oidc=console_oidc,
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
