"""The Basecamp ASGI application (Litestar): the REST API over the in-process message bus.

The workflow routes are derived from the operations table (``routes.py``); this module adds
``/health``, ``/openapi.json``, the error mapping and the periodic override check. Everything it
works with (the bus, the indexed store, the tokens, the JSON encoder, the table) is built by the
composition root (``dli.entrypoints.bootstrap.build_server``) and handed in as ``ServerSettings``.
Result models are attrs classes; Litestar builds the OpenAPI document from them directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import attrs
import msgspec
import structlog
from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from dli._version import __version__
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import ConfigurationError, DLIError, ErrorCode, ServerError
from dli.domain.model.workflow import BrokenSpec
from dli.entrypoints.server.admission import AdmissionControl, AdmissionLimits, AdmissionStats
from dli.entrypoints.server.errors import dli_error_bytes, error_bytes, status_for
from dli.entrypoints.server.middleware import REQUEST_ID_SCOPE_KEY, RequestMiddleware
from dli.entrypoints.server.probes import BoundedProbe
from dli.entrypoints.server.routes import Answers, BodySchemaPlugin, build_routes
from dli.entrypoints.server.stalls import GcWatch, LoopWatch

if TYPE_CHECKING:
    from dli.adapters.basecamp.operations import Operation
    from dli.adapters.orchestrator_cache import CachingOrchestrator
    from dli.adapters.stores.indexed import IndexedSpecStore
    from dli.adapters.token_file import TokenFile
    from dli.domain.usecases.bus import MessageBus
    from dli.entrypoints.server.console.oidc import ConsoleOIDC
    from dli.entrypoints.server.identities import Authenticator
    from dli.entrypoints.server.metrics import ServerMetrics
    from dli.entrypoints.server.tracing import Tracer

__all__ = ["MAX_BODY_BYTES", "ServerSettings", "create_app", "warm_up"]

MAX_BODY_BYTES = 1024 * 1024
SWITCH_INTERVAL_SECONDS = 0.001
"""How long a thread keeps the GIL while another (the event loop) waits for it."""
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})

_log = structlog.get_logger("dli.server")


@attrs.frozen(kw_only=True)
class ServerSettings:
    """What the app is built from."""

    store: IndexedSpecStore
    """The spec store, indexed (the override check keeps the index)."""
    orchestrator: CachingOrchestrator
    """Airflow, or the in-memory simulation, behind the cache of list rows' run state."""
    bus: MessageBus
    """The handlers over ``store`` and ``orchestrator``."""
    tokens: TokenFile
    """Who may call the API."""
    operations: tuple[Operation, ...]
    """The API table the workflow routes are derived from."""
    encode: Callable[[Any], Any]
    """A result model as JSON-ready data (the same shape the CLI prints)."""
    check_interval_seconds: float = 30.0
    """Seconds between two override checks."""
    orchestrator_url: str = "memory://"
    """Orchestrator URL (without credentials), for /health."""
    admission: AdmissionLimits = AdmissionLimits()
    """How many requests are worked on and wait at once."""
    metrics: ServerMetrics | None = None
    """Prometheus metrics (``GET /metrics``), or ``None`` when they are off or not installed."""
    metrics_need_token: bool = False
    """Whether ``GET /metrics`` asks for a bearer token (scrapers usually send none)."""
    tracer: Tracer | None = None
    """OpenTelemetry spans of the requests, or ``None`` (the trace id of a client's ``traceparent`` is still logged)."""
    authenticator: Authenticator | None = None
    """Who may call the API, when more than the tokens file (OIDC); ``None``: the tokens file alone."""
    console: bool = True
    """Serve the web console at ``/ui/`` (when Jinja2 is installed: the ``console`` extra)."""
    console_secret: bytes | None = None
    """What signs the console's session cookies (``None``: a random one per process)."""
    console_oidc: ConsoleOIDC | None = None
    """The browser sign-in at the OIDC issuer, when the server has one."""
    console_secure_cookies: bool = True
    """``Secure`` on the console's cookies (browsers keep them over plain HTTP to localhost only)."""

    def body(self, result: object) -> bytes:
        """The JSON bytes of ``result`` (the value ``--format json`` prints, without its indentation)."""
        # msgspec writes the same JSON value as json.dumps, about eight times faster: a page of
        # rows is most of the work of a list.
        return msgspec.json.encode(self.encode(result))

    def respond(self, result: object, status_code: int = 200) -> Response[Any]:
        """The JSON answer carrying ``result``."""
        return Response(content=self.body(result), status_code=status_code, media_type="application/json")


# -- health models -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ComponentHealth:
    """Reachability of one backend."""

    reachable: bool
    """Whether it answered."""
    url: str
    """Where it is (no credentials)."""
    error: str | None = None
    """Why it did not answer."""


@attrs.frozen(kw_only=True)
class HealthReport:
    """``GET /health``."""

    status: str
    """``ok`` when every backend answered and the index is warm, ``starting`` before that, else ``degraded``."""
    ready: bool
    """Whether the server's index and catalog are loaded and warm (until then the answer is 503)."""
    version: str
    """Server version."""
    store: ComponentHealth
    """The spec store."""
    orchestrator: ComponentHealth
    """The orchestrator."""
    last_override_check: dt.datetime | None = None
    """When the override check last completed."""
    broken: tuple[BrokenSpec, ...] = ()
    """Stored documents that cannot be read, as of the last check (at most 100)."""
    broken_count: int = 0
    """How many there are in all."""
    load: AdmissionStats | None = None
    """Requests worked on and waiting now, and refused so far."""


# -- helpers -------------------------------------------------------------------------------------


def _settings(request: Request[Any, Any, Any]) -> ServerSettings:
    settings: ServerSettings = request.app.state["settings"]
    return settings


# -- health and OpenAPI --------------------------------------------------------------------------


def _probe(url: str, check: Callable[[], object]) -> ComponentHealth:
    try:
        check()
    except DLIError as exc:
        return ComponentHealth(reachable=False, url=url, error=f"[{exc.code.value}] {exc.message}")
    except Exception as exc:  # a health check reports, it does not fail
        return ComponentHealth(reachable=False, url=url, error=type(exc).__name__)
    return ComponentHealth(reachable=True, url=url)


PROBE_NAME = "dli.health.probe"
"""The workflow the orchestrator is asked about: any answer, even "unknown", shows it is reachable."""
MAX_BROKEN_SHOWN = 100


PROBE_BUDGET_SECONDS = 0.5
"""Longest a health probe waits for the orchestrator (probes often time out after one second)."""
STORE_PROBE_BUDGET_SECONDS = 2.0
"""Longest a health probe waits for the spec store: an S3 GET can take a second on a busy endpoint."""


def store_probe(store: IndexedSpecStore) -> BoundedProbe:
    """The store's health probe: a read of a key that does not exist, past the index (one GET on S3)."""
    return BoundedProbe(
        lambda: store.inner.read(SourceType.MANUAL, PROBE_NAME),
        describe=f"Spec store {store.url}",
        budget_seconds=STORE_PROBE_BUDGET_SECONDS,
    )


def _orchestrator_probe(orchestrator: CachingOrchestrator, url: str) -> None:
    # Through the server's state cache: a probe costs the orchestrator at most one small query per
    # few seconds, and answers at once while the orchestrator is known to be down.
    if PROBE_NAME not in orchestrator.workflow_states([PROBE_NAME], budget_seconds=PROBE_BUDGET_SECONDS):
        raise ServerError(
            f"Orchestrator at {url} did not answer within {PROBE_BUDGET_SECONDS:g} s",
            hints=("Check that the Airflow API server is up and not overloaded.",),
        )


@get(
    "/health",
    name="health",
    tags=["health"],
    security=[],
    responses={
        503: ResponseSpec(
            data_container=HealthReport, generate_examples=False, description="Degraded: a backend did not answer"
        )
    },
)
async def health(request: Request[Any, Any, Any]) -> Response[HealthReport]:
    """Reachability of the spec store and the orchestrator, readiness, broken specs, load (no token needed).

    503 when degraded, and while the server is starting: its first index load and warm-up are not
    done (``ready: false``), so a load balancer sends it no requests that would wait for them.

    Answered within a few seconds whatever the dependencies do: the store is asked for one missing
    key (a single GET, whatever the store's size) and waited for at most ``STORE_PROBE_BUDGET_SECONDS``;
    the orchestrator is asked about one workflow, at most ``PROBE_BUDGET_SECONDS``. Both side by side.
    """
    settings = _settings(request)
    state = request.app.state
    found: dict[str, ComponentHealth] = {}

    async def probe_store() -> None:
        outcome = await state["store_probe"].probe()
        found["store"] = ComponentHealth(reachable=outcome.reachable, url=settings.store.url, error=outcome.error)

    async def probe_orchestrator() -> None:
        found["orchestrator"] = await anyio.to_thread.run_sync(
            _probe,
            settings.orchestrator_url,
            lambda: _orchestrator_probe(settings.orchestrator, settings.orchestrator_url),
        )

    async with anyio.create_task_group() as group:  # side by side: two hung backends cost one budget
        group.start_soon(probe_store)
        group.start_soon(probe_orchestrator)
    store = found["store"]
    orchestrator = found["orchestrator"]
    reachable = store.reachable and orchestrator.reachable
    ready = bool(state.get("ready"))
    broken = settings.store.broken()
    admission = state.get("admission")
    report = HealthReport(
        status=("ok" if ready else "starting") if reachable else "degraded",
        ready=ready,
        version=__version__,
        store=store,
        orchestrator=orchestrator,
        last_override_check=state.get("last_check"),
        broken=broken[:MAX_BROKEN_SHOWN],
        broken_count=len(broken),
        load=admission.stats if admission is not None else None,
    )
    return settings.respond(report, 200 if reachable and ready else 503)


@get("/metrics", name="metrics", tags=["health"], include_in_schema=False)
async def metrics_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """Prometheus exposition of the server's metrics (a token only with ``--metrics-need-token``)."""
    metrics = _settings(request).metrics
    assert metrics is not None  # the route exists only with metrics on
    admission = request.app.state.get("admission")
    if admission is not None:
        metrics.sample_admission(admission)
    body, content_type = await anyio.to_thread.run_sync(metrics.exposition)
    return Response(content=body, media_type=content_type)


@get("/openapi.json", name="openapi", tags=["health"], include_in_schema=False)
async def openapi_document(request: Request[Any, Any, Any]) -> Response[Any]:
    """The OpenAPI 3.1 document (no token needed)."""
    return Response(content=request.app.openapi_schema.to_schema(), media_type="application/json")


# -- error handlers --------------------------------------------------------------------------------


def _error_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, media_type="application/json", headers=headers)


def _on_dli_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, DLIError)
    status = getattr(exc, "http_status", None) or status_for(exc)
    if status >= 500:
        _log.warning("backend_error", code=exc.code.value, error=exc.message)
    return _error_response(status, dli_error_bytes(exc))


def _on_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if isinstance(exc, ValidationException):
        problems = [
            f"{item.get('key', '?')}: {item.get('message', '')}" for item in (exc.extra or []) if isinstance(item, dict)
        ]
        malformed = "malformed" in (exc.detail or "").lower()
        message = exc.detail if malformed or not problems else "Invalid request: " + "; ".join(problems)
        return _error_response(400 if malformed else 422, error_bytes(ErrorCode.PARAMETER_INVALID, message))
    allow = next((value for key, value in (exc.headers or {}).items() if key.lower() == "allow"), None)
    headers = {"Allow": ", ".join(sorted(m.strip() for m in allow.split(",")))} if allow else None
    if status == 404:
        body = error_bytes(
            ErrorCode.WORKFLOW_NOT_FOUND,
            f"Not found: {request.url.path}",
            hints=("See /openapi.json for the endpoints.",),
        )
    elif status == 405:
        allowed = headers["Allow"] if headers else ""
        body = error_bytes(
            ErrorCode.PARAMETER_INVALID,
            f"Method {request.method} is not allowed on {request.url.path}",
            hints=(f"Allowed: {allowed}.",) if allowed else (),
            details={"allowed": allowed.split(", ") if allowed else []},
        )
    elif status == 413:
        body = error_bytes(
            ErrorCode.PARAMETER_INVALID,
            f"Request body larger than {MAX_BODY_BYTES} bytes",
            details={"max_bytes": MAX_BODY_BYTES},
        )
    elif status == 401:
        body = error_bytes(ErrorCode.AUTH_FAILED, exc.detail)
    elif status < 500:
        body = error_bytes(ErrorCode.PARAMETER_INVALID, exc.detail)
    else:
        body = error_bytes(ErrorCode.SERVER_ERROR, exc.detail)
    return _error_response(status, body, headers)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)
    _log.error("unhandled_error", path=request.url.path, request_id=request_id, exc_info=exc)
    body = error_bytes(
        ErrorCode.SERVER_ERROR,
        "Internal server error",
        details={"request_id": request_id},
        hints=("The server logged the details under this request id.",),
    )
    return _error_response(500, body)


# -- the override check ----------------------------------------------------------------------------


def _index_checked(settings: ServerSettings, started: float, error: BaseException | None) -> None:
    if settings.metrics is not None:
        workflows = len(settings.store.catalog()) if error is None else 0
        settings.metrics.index_checked(
            time.perf_counter() - started, error, workflows=workflows, broken=len(settings.store.broken())
        )


def warm_up(settings: ServerSettings, *, freeze_gc: bool = False) -> None:
    """What the first requests would otherwise pay for, done before the server says it is ready.

    The first check has loaded the index, built the catalog and computed the next fire times; here
    the default selection and one encoded page are made once. With ``freeze_gc`` (``basecamp serve``:
    the process is the server's alone), every object alive so far (the index: over a million objects
    at 10,000 specs) is then moved out of the garbage collector's reach: a full collection would
    otherwise walk all of them, holding every thread (and so every request) for a tenth of a second
    or more, again and again.
    """
    catalog = settings.store.catalog()
    catalog.select()
    settings.body({"workflows": [], "total_count": len(catalog)})
    if freeze_gc:
        gc.collect()
        gc.freeze()


async def _check_forever(app: Litestar, settings: ServerSettings, *, freeze_gc: bool) -> None:
    while True:
        started = time.perf_counter()
        try:
            await anyio.to_thread.run_sync(settings.store.check)
            app.state["last_check"] = dt.datetime.now(dt.UTC)
            app.state["last_check_error"] = None
            _index_checked(settings, started, None)
            if not app.state.get("ready"):
                await anyio.to_thread.run_sync(lambda: warm_up(settings, freeze_gc=freeze_gc))
                app.state["ready"] = True
                _log.info("server_ready", seconds=round(time.perf_counter() - started, 2))
        except DLIError as exc:
            app.state["last_check_error"] = f"[{exc.code.value}] {exc.message}"
            _log.warning("override_check_failed", code=exc.code.value, error=exc.message)
            _index_checked(settings, started, exc)
        except Exception as exc:  # keep checking: the next one may succeed
            app.state["last_check_error"] = type(exc).__name__
            _log.error("override_check_crashed", exc_info=exc)
            _index_checked(settings, started, exc)
        await asyncio.sleep(settings.check_interval_seconds)


def _console(settings: ServerSettings, authenticator: Authenticator) -> tuple[list[Any], Any, Any] | None:
    """The web console's routes, template configuration and state; ``None`` when off or Jinja2 is missing."""
    if not settings.console:
        return None
    try:
        import jinja2
    except ImportError:
        return None
    import os
    import secrets

    from litestar.plugins.jinja import JinjaTemplateEngine
    from litestar.template.config import TemplateConfig

    from dli.entrypoints.server.console.routes import TEMPLATE_DIR, ConsoleState, console_routes
    from dli.entrypoints.server.console.session import SessionCodec

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # every value a page shows is escaped: names, SQL, logs, errors
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    secret = (
        settings.console_secret or os.environ.get("BASECAMP_SESSION_SECRET", "").encode() or secrets.token_bytes(32)
    )
    if len(secret) < 16:
        raise ConfigurationError(
            "BASECAMP_SESSION_SECRET is too short to sign the console's cookies",
            hints=("Give at least 16 random bytes, e.g. the output of 'openssl rand -hex 32'.",),
        )
    state = ConsoleState(
        codec=SessionCodec(secret),
        authenticator=authenticator,
        oidc=settings.console_oidc,
        secure_cookies=settings.console_secure_cookies,
    )
    config = TemplateConfig(instance=JinjaTemplateEngine(engine_instance=environment))
    return console_routes(), config, state


def create_app(settings: ServerSettings, *, freeze_gc: bool = False) -> Any:
    """The ASGI application: Litestar routes wrapped in the auth and logging middleware.

    ``freeze_gc``: after the first index load, keep the objects alive then out of the garbage
    collector's full collections (``gc.freeze``; for a process that is the server's alone).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Worker threads: every admitted request may hold one, plus the check and health probes.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.admission.max_in_flight + 8)
        loop_watch, gc_watch = LoopWatch(), GcWatch()
        app.state["stalls"] = (loop_watch, gc_watch)
        loop_watch.start()
        gc_watch.start()
        # A thread that keeps the GIL (the periodic check parsing YAML, a page being encoded) makes
        # the event loop wait up to this long each time it wants the GIL back: 5 ms by default,
        # paid several times per request. A shorter interval keeps answers flowing during a check.
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(previous_interval, SWITCH_INTERVAL_SECONDS))
        task = asyncio.create_task(_check_forever(app, settings, freeze_gc=freeze_gc))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await loop_watch.stop()
            gc_watch.stop()
            sys.setswitchinterval(previous_interval)
            settings.bus.close()  # the orchestrator's HTTP connections
            app.state["store_probe"].close()
            if settings.metrics is not None:
                settings.metrics.close()

    authenticator = settings.authenticator if settings.authenticator is not None else settings.tokens
    console = _console(settings, authenticator)
    answers = Answers()
    app = Litestar(
        route_handlers=[
            *build_routes(settings.operations, _settings, answers),
            health,
            openapi_document,
            *([metrics_page] if settings.metrics is not None else []),
            *(console[0] if console is not None else []),
        ],
        template_config=console[1] if console is not None else None,
        lifespan=[lifespan],
        exception_handlers={DLIError: _on_dli_error, HTTPException: _on_http_error, Exception: _on_unexpected},
        request_max_body_size=MAX_BODY_BYTES,
        plugins=[BodySchemaPlugin()],
        openapi_config=OpenAPIConfig(
            title="Basecamp",
            version=__version__,
            description="Control plane of dli workflows: every WorkflowAPI operation over HTTP.",
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")},
            ),
            render_plugins=[],
            path="/schema",
        ),
        state=None,
        logging_config=None,
        debug=False,
    )
    app.state["settings"] = settings
    app.state["answers"] = answers
    if console is not None:
        app.state["console"] = console[2]
    app.state["last_check"] = None
    app.state["last_check_error"] = None
    app.state["ready"] = False
    app.state["store_probe"] = store_probe(settings.store)
    # Logging and auth outside, so refused and abandoned requests are logged; /health and /metrics
    # are never queued (a busy server is when they matter most).
    admission = AdmissionControl(app, limits=settings.admission, exempt_paths=frozenset({"/health", "/metrics"}))
    app.state["admission"] = admission
    public = PUBLIC_PATHS if settings.metrics_need_token else PUBLIC_PATHS | {"/metrics"}
    outer: Any = RequestMiddleware(
        admission,
        tokens=authenticator,
        public_paths=public,
        console_prefix="/ui" if console is not None else None,
    )
    if settings.metrics is not None:
        from dli.entrypoints.server.metrics import MetricsMiddleware

        outer = MetricsMiddleware(outer, metrics=settings.metrics, admission=admission)
    from dli.entrypoints.server.tracing import TracingMiddleware

    return TracingMiddleware(outer, tracer=settings.tracer)
