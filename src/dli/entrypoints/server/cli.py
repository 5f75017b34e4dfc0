"""``basecamp``: run the server (``serve``) and manage its API tokens (``token add``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter

from dli.domain.model.errors import ConfigurationError, DLIError

__all__ = ["app", "main"]

app = App(name="basecamp", help="Basecamp: the dli workflow control plane server.")
token_app = App(name="token", help="Manage API tokens (only their hashes are stored).")
app.command(token_app)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


_WORKER_OPTIONS = "DLI_BASECAMP_WORKER_OPTIONS"
"""How ``serve --workers N`` hands its options to the worker processes uvicorn starts."""


def _build_app(options: dict[str, Any]) -> Any:
    """Configure logging, wire the server from ``serve``'s options, and return the ASGI app."""
    import structlog

    from dli.entrypoints.bootstrap import build_server
    from dli.entrypoints.server.admission import AdmissionLimits
    from dli.entrypoints.server.app import create_app
    from dli.entrypoints.server.logs import configure_logging

    configure_logging(options["log_format"])
    try:
        admission = AdmissionLimits(
            max_in_flight=options["max_in_flight"],
            max_queued=options["max_queued"],
            queue_timeout_seconds=options["queue_timeout"],
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"Invalid admission limits: {exc}",
            hints=("--max-in-flight >= 1, --max-queued >= 0, --queue-timeout > 0.",),
        ) from None
    settings = build_server(
        store_url=options["store"],
        orchestrator_url=options["orchestrator"],
        tokens_file=Path(options["tokens_file"]),
        check_interval_seconds=options["check_interval"],
        full_check_interval_seconds=options.get("full_check_interval", 300.0),
        airflow_username=_env("DLI_AIRFLOW_USERNAME", "AIRFLOW_USERNAME"),
        airflow_password=_env("DLI_AIRFLOW_PASSWORD", "AIRFLOW_PASSWORD"),
        airflow_connect_timeout_seconds=options.get("airflow_connect_timeout"),
        airflow_read_timeout_seconds=options.get("airflow_read_timeout"),
        store_connect_timeout_seconds=options.get("store_connect_timeout"),
        store_read_timeout_seconds=options.get("store_read_timeout"),
        admission=admission,
        metrics=options.get("metrics"),
        metrics_need_token=options.get("metrics_need_token", False),
        policy_file=Path(options["policy"]) if options.get("policy") else None,
        oidc_issuer=options.get("oidc_issuer"),
        oidc_audience=options.get("oidc_audience"),
        oidc_user_claim=options.get("oidc_user_claim") or "email",
        oidc_groups_claim=options.get("oidc_groups_claim") or "groups",
    )
    log = structlog.get_logger("dli.server")
    if not options.get("policy"):
        log.warning(
            "no_policy",
            message="No --policy given: every authenticated caller may do everything to every team's workflows",
            hint="Give 'basecamp serve --policy policy.yaml' (docs/security.md) on a Basecamp several teams share.",
        )
    log.info(
        "server_starting",
        host=options["host"],
        port=options["port"],
        store=settings.store.url,
        orchestrator=settings.orchestrator_url,
        tokens_file=options["tokens_file"],
        policy=options.get("policy"),
        oidc_issuer=options.get("oidc_issuer"),
        check_interval_seconds=options["check_interval"],
        full_check_interval_seconds=options.get("full_check_interval", 300.0),
        max_in_flight=admission.max_in_flight,
        max_queued=admission.max_queued,
        queue_timeout_seconds=admission.queue_timeout_seconds,
        workers=options["workers"],
        metrics=settings.metrics is not None,
        pid=os.getpid(),
    )
    return create_app(settings, freeze_gc=True)


def worker_app() -> Any:
    """The app of one worker process of ``serve --workers N`` (uvicorn imports and calls this)."""
    return _build_app(json.loads(os.environ[_WORKER_OPTIONS]))


@app.command
def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8081,
    store: Annotated[str, Parameter(env_var="DLI_STORE_URL")] = "memory://",
    orchestrator: str | None = None,
    airflow_url: Annotated[str | None, Parameter(env_var="DLI_AIRFLOW_URL")] = None,
    tokens_file: Annotated[Path, Parameter(env_var="BASECAMP_TOKENS_FILE")] = Path("basecamp-tokens.json"),
    log_format: Literal["json", "console"] = "json",
    check_interval: float = 30.0,
    full_check_interval: float = 300.0,
    airflow_connect_timeout: Annotated[float | None, Parameter(env_var="DLI_AIRFLOW_CONNECT_TIMEOUT")] = None,
    airflow_read_timeout: Annotated[float | None, Parameter(env_var="DLI_AIRFLOW_READ_TIMEOUT")] = None,
    store_connect_timeout: Annotated[float | None, Parameter(env_var="DLI_STORE_CONNECT_TIMEOUT")] = None,
    store_read_timeout: Annotated[float | None, Parameter(env_var="DLI_STORE_READ_TIMEOUT")] = None,
    max_in_flight: int = 8,
    max_queued: int = 64,
    queue_timeout: float = 5.0,
    workers: int = 1,
    metrics: bool | None = None,
    metrics_need_token: bool = False,
    policy: Annotated[Path | None, Parameter(env_var="BASECAMP_POLICY")] = None,
    oidc_issuer: Annotated[str | None, Parameter(env_var="BASECAMP_OIDC_ISSUER")] = None,
    oidc_audience: Annotated[str | None, Parameter(env_var="BASECAMP_OIDC_AUDIENCE")] = None,
    oidc_user_claim: str = "email",
    oidc_groups_claim: str = "groups",
) -> None:
    """Serve the REST API.

    Parameters
    ----------
    host
        Interface to listen on.
    port
        TCP port.
    store
        Spec store URL: memory://, file:///path or s3://bucket/prefix.
    orchestrator
        memory:// (simulated runs) or the Airflow API server URL.
    airflow_url
        Same as --orchestrator with an Airflow URL; credentials come from DLI_AIRFLOW_USERNAME /
        DLI_AIRFLOW_PASSWORD (or AIRFLOW_USERNAME / AIRFLOW_PASSWORD).
    tokens_file
        The tokens file written by 'basecamp token add'.
    log_format
        json (one object per line) or console.
    check_interval
        Seconds between two override checks of the spec store. On S3 a check reads the writes
        dli recorded (under <prefix>/.dli/changes/) since the previous one.
    full_check_interval
        Seconds between two checks that list every key of the store: writes made around dli
        (e.g. 'aws s3 cp' into code/) are seen within this interval.
    airflow_connect_timeout
        Seconds to wait for a connection to Airflow (default 3).
    airflow_read_timeout
        Seconds to wait for Airflow's answer to one request (default 10).
    store_connect_timeout
        Seconds to wait for a connection to the S3 endpoint (default 3).
    store_read_timeout
        Seconds to wait for the S3 endpoint's answer to one request (default 10).
    max_in_flight
        Requests one process works on at once (more only share its one CPU: see docs/operations.md).
    max_queued
        Requests that may wait for a free slot; one more is answered 503 with Retry-After.
    queue_timeout
        Seconds a request may wait for a slot before it is answered 503 with Retry-After.
    workers
        Server processes sharing the port, each with its own index (like replicas: a write made
        through one is seen by the others within --check-interval). At most one per CPU core.
    metrics
        Serve Prometheus metrics at /metrics (default: when prometheus-client is installed,
        'pip install dli[metrics]'). With --workers N the workers share PROMETHEUS_MULTIPROC_DIR
        (a fresh temporary directory unless set), so a scrape counts the whole server.
    metrics_need_token
        Ask for a bearer token on /metrics like on the API (default: no token, as Prometheus
        scrapes expect; the metrics hold no names of workflows or users).
    policy
        The policy file (admins, teams' editors/operators/viewers, default): who may do what to
        which team's workflows (docs/security.md). Without it every authenticated caller may do
        everything (a warning says so at start-up).
    oidc_issuer
        Also accept bearer JWTs (ID tokens or JWT access tokens) signed by this OpenID Connect
        issuer (its discovery document and keys are fetched and cached). Tokens of the tokens
        file keep working.
    oidc_audience
        The audience those JWTs must carry in 'aud' (usually dli's client id at the issuer).
    oidc_user_claim
        The claim naming the user.
    oidc_groups_claim
        The claim listing the user's groups (for the policy's 'group:NAME').
    """
    import uvicorn

    if orchestrator and airflow_url and orchestrator != airflow_url:
        raise ConfigurationError("Give --orchestrator or --airflow-url, not both")
    if workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {workers}")
    orchestrator = orchestrator or airflow_url or "memory://"
    if workers > 1 and orchestrator.startswith("memory:"):
        raise ConfigurationError(
            "--workers needs a shared orchestrator: memory:// keeps simulated runs inside one process",
            hints=("Use --workers 1 with memory://, or point --airflow-url at Airflow.",),
        )
    options = {
        "host": host,
        "port": port,
        "store": store,
        "orchestrator": orchestrator,
        "tokens_file": str(tokens_file),
        "log_format": log_format,
        "check_interval": check_interval,
        "full_check_interval": full_check_interval,
        "max_in_flight": max_in_flight,
        "max_queued": max_queued,
        "queue_timeout": queue_timeout,
        "workers": workers,
        "airflow_connect_timeout": airflow_connect_timeout,
        "airflow_read_timeout": airflow_read_timeout,
        "store_connect_timeout": store_connect_timeout,
        "store_read_timeout": store_read_timeout,
        "metrics": metrics,
        "metrics_need_token": metrics_need_token,
        "policy": str(policy) if policy is not None else None,
        "oidc_issuer": oidc_issuer,
        "oidc_audience": oidc_audience,
        "oidc_user_claim": oidc_user_claim,
        "oidc_groups_claim": oidc_groups_claim,
    }
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(_build_app(options), **common)
        return
    with _multiprocess_metrics(metrics):
        # Fail here, once, on a bad option rather than in every worker; without metrics, so that this
        # process (which serves nothing) leaves no values of its own in the workers' directory.
        _build_app({**options, "metrics": False})
        os.environ[_WORKER_OPTIONS] = json.dumps(options)
        uvicorn.run("dli.entrypoints.server.cli:worker_app", factory=True, workers=workers, **common)


@contextlib.contextmanager
def _multiprocess_metrics(metrics: bool | None) -> Iterator[None]:
    """Workers write their metrics to one directory, emptied at start (prometheus_client's multiprocess mode).

    Set before any worker starts (prometheus_client reads it when imported); a temporary directory
    removed at exit unless the operator chose one.
    """
    from dli.entrypoints.server.metrics import MULTIPROC_ENV, metrics_available

    if metrics and not metrics_available():
        raise ConfigurationError(
            "Metrics need prometheus-client",
            hints=("pip install 'dli[metrics]', or start the server with --no-metrics.",),
        )
    if metrics is False or not metrics_available():
        yield
        return
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # a previous run's counts are not this one's
            stale.unlink(missing_ok=True)
        yield
        return
    directory = Path(tempfile.mkdtemp(prefix="basecamp-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


@token_app.command
def add(
    user: str,
    *,
    group: Annotated[tuple[str, ...], Parameter(consume_multiple=False)] = (),
    tokens_file: Annotated[Path, Parameter(env_var="BASECAMP_TOKENS_FILE")] = Path("basecamp-tokens.json"),
) -> None:
    """Create a token for USER and print it (it is shown only this once).

    Parameters
    ----------
    user
        The user name the token authenticates (recorded as registered_by / triggered_by).
    group
        A group the user belongs to, for the policy's 'group:NAME' entries; repeat for several.
    tokens_file
        Where the token hashes are kept.
    """
    from dli.entrypoints.bootstrap import build_tokens

    token = build_tokens(tokens_file).add(user, groups=group)
    print(token)
    groups = f" (groups: {', '.join(sorted(set(group)))})" if group else ""
    print(f"Token for {user}{groups} added to {tokens_file}; it is not shown again.", file=sys.stderr)


@token_app.command
def revoke(
    user: str, *, tokens_file: Annotated[Path, Parameter(env_var="BASECAMP_TOKENS_FILE")] = Path("basecamp-tokens.json")
) -> None:
    """Delete every token of USER.

    Parameters
    ----------
    user
        Whose tokens to delete.
    tokens_file
        Where the token hashes are kept.
    """
    from dli.entrypoints.bootstrap import build_tokens

    count = build_tokens(tokens_file).revoke(user)
    print(f"Revoked {count} token(s) of {user}.", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``basecamp`` console script: DLI errors end with their code, not a traceback."""
    try:
        app(argv)
    except DLIError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        for hint in exc.hints:
            print(f"  {hint}", file=sys.stderr)
        sys.exit(2)
