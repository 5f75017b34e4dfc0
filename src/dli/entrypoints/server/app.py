"""The Basecamp ASGI application (Litestar): the REST API over the in-process control plane.

Handlers are thin: parse and validate the request, call the control plane as the token's user in a
worker thread (the use-cases are synchronous), and answer with the JSON of ``json_codec`` — the same
bytes the CLI prints with ``--format json``. Result models are attrs classes; Litestar builds the
OpenAPI document from them directly (no second model library).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio.to_thread
import attrs
import structlog
from litestar import Litestar, Request, Response, delete, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.openapi.spec import Components, SecurityScheme

import dli
from dli.adapters.codecs.results import to_jsonable
from dli.adapters.codecs.specs import spec_from_dict
from dli.adapters.stores.indexed import IndexedSpecStore
from dli.adapters.token_file import TokenFile
from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import DLIError, ErrorCode, SpecInvalidError, WorkflowNotFoundError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import validate_cron, validate_timezone
from dli.domain.usecases.control_plane import InProcessControlPlane
from dli.domain.model.workflow import DagState
from dli.domain.model.workflow import (
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.entrypoints.server.bodies import (
    BackfillRequest,
    MalformedBodyError,
    PauseRequest,
    RegisterRequest,
    RunRequest,
    parse_body,
)
from dli.entrypoints.server.errors import ErrorBody, dli_error_bytes, error_bytes, status_for
from dli.entrypoints.server.middleware import REQUEST_ID_SCOPE_KEY, USER_SCOPE_KEY, RequestMiddleware
from dli.domain.model.queries import HistoryQuery, ListQuery
from dli.ports.orchestrator import Orchestrator

__all__ = ["MAX_BODY_BYTES", "ServerSettings", "create_app"]

MAX_BODY_BYTES = 1024 * 1024
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
T = TypeVar("T")

_log = structlog.get_logger("dli.server")


@attrs.frozen(kw_only=True)
class ServerSettings:
    """What the app is built from."""

    store: IndexedSpecStore
    """The spec store, indexed (the override check keeps the index)."""
    orchestrator: Orchestrator
    """Airflow, or the in-memory simulation."""
    plane: InProcessControlPlane
    """The use-cases over ``store`` and ``orchestrator``."""
    tokens: TokenFile
    """Who may call the API."""
    check_interval_seconds: float = 30.0
    """Seconds between two override checks."""
    orchestrator_url: str = "memory://"
    """Orchestrator URL (without credentials), for /health."""


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
    """``ok`` when every backend answered, else ``degraded``."""
    version: str
    """Server version."""
    store: ComponentHealth
    """The spec store."""
    orchestrator: ComponentHealth
    """The orchestrator."""
    last_override_check: dt.datetime | None = None
    """When the override check last completed."""


# -- helpers -------------------------------------------------------------------------------------


def _json(obj: Any, status_code: int = 200) -> Response[Any]:
    body = json.dumps(to_jsonable(obj), ensure_ascii=False).encode()
    return Response(content=body, status_code=status_code, media_type="application/json")


def _settings(request: Request[Any, Any, Any]) -> ServerSettings:
    return request.app.state["settings"]  # type: ignore[no-any-return]


async def _call(request: Request[Any, Any, Any], method: str, *args: Any, **kwargs: Any) -> Any:
    """Run a control-plane method as the request's user, off the event loop."""
    plane = _settings(request).plane.acting_as(request.scope.get(USER_SCOPE_KEY))  # type: ignore[attr-defined]
    return await anyio.to_thread.run_sync(functools.partial(getattr(plane, method), *args, **kwargs))


def _only(request: Request[Any, Any, Any], allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise _unknown_params(unknown, allowed)


def _unknown_params(unknown: list[str], allowed: set[str]) -> DLIError:
    from dli.domain.model.errors import ParameterInvalidError

    return ParameterInvalidError(
        f"Unknown query parameter(s): {', '.join(unknown)}",
        hints=(f"Allowed: {', '.join(sorted(allowed)) or 'none'}.",),
    )


async def _body(request: Request[Any, Any, Any], cls: type[T], *, empty_ok: bool = False) -> T:
    return parse_body(await request.body(), cls, empty_ok=empty_ok)


_ERRORS = {
    status: ResponseSpec(data_container=ErrorBody, description=description)
    for status, description in (
        (401, "Missing or invalid bearer token (DLI-502)"),
        (403, "Not allowed on a CODE workflow (DLI-803)"),
        (404, "No such workflow or run (DLI-800)"),
        (409, "Already exists, overridden or invalid state (DLI-804, DLI-806, DLI-807)"),
        (413, "Request body too large (DLI-204)"),
        (422, "Invalid input (DLI-203, DLI-204, DLI-805)"),
        (503, "Spec store or orchestrator unavailable (DLI-503)"),
    )
}
_COMMON: dict[str, Any] = {"responses": _ERRORS, "security": [{"bearer": []}]}


# -- workflows -----------------------------------------------------------------------------------


@get("/api/v1/workflows", tags=["workflows"], **_COMMON)
async def list_workflows(
    request: Request[Any, Any, Any],
    source_type: FromQuery[SourceType | None] = None,
    status: FromQuery[WorkflowStatus | None] = None,
    dataset_filter: FromQuery[str | None] = None,
    running_only: FromQuery[bool] = False,
    enabled_only: FromQuery[bool] = False,
    limit: FromQuery[int] = 100,
) -> Response[WorkflowListResult]:
    """Workflows matching the filters, sorted by name (an overridden MANUAL one is listed too)."""
    _only(request, {"source_type", "status", "dataset_filter", "running_only", "enabled_only", "limit"})
    query = ListQuery(
        source_type=source_type,
        status=status,
        dataset_filter=dataset_filter or None,
        running_only=running_only,
        enabled_only=enabled_only,
        limit=limit,
    )
    return _json(await _call(request, "list_workflows", query))


@post("/api/v1/workflows", tags=["workflows"], status_code=201, **_COMMON)
async def register_workflow(
    request: Request[Any, Any, Any], data: JSONBody[RegisterRequest | None] = None
) -> Response[WorkflowRegisterResult]:
    """Register a dataset spec (with its ``schedule``) as a MANUAL workflow, as the token's user."""
    _only(request, set())
    body = await _body(request, RegisterRequest)
    schedule = body.spec.get("schedule")
    if not isinstance(schedule, dict):
        raise SpecInvalidError("spec.schedule is required (cron, timezone, enabled, retry)")
    # Cron and timezone problems keep their own code (DLI-805) rather than a generic invalid spec.
    validate_cron(schedule.get("cron"))
    validate_timezone(schedule.get("timezone", "UTC"))
    spec = spec_from_dict(body.spec, where="spec")
    result: WorkflowRegisterResult = await _call(request, "register", spec=spec, force=body.force)
    return _json(result, 200 if result.updated else 201)


@get("/api/v1/workflows/{dataset_name:str}", tags=["workflows"], **_COMMON)
async def get_workflow(request: Request[Any, Any, Any], dataset_name: FromPath[str]) -> Response[WorkflowInfo]:
    """The active workflow of a dataset (CODE over MANUAL); 404 / DLI-800 when there is none."""
    _only(request, set())
    info = await _call(request, "get", validate_dataset_name(dataset_name))
    if info is None:
        raise WorkflowNotFoundError(f"Workflow '{dataset_name}' not found", details={"dataset_name": dataset_name})
    return _json(info)


@get("/api/v1/workflows/{dataset_name:str}/live", tags=["workflows"], **_COMMON)
async def workflow_live(request: Request[Any, Any, Any], dataset_name: FromPath[str]) -> Response[DagState]:
    """Whether Airflow has picked up the workflow (its DAG is parsed), or the DAG's import error."""
    _only(request, set())
    return _json(await _call(request, "dag_state", validate_dataset_name(dataset_name)))


@delete("/api/v1/workflows/{dataset_name:str}", tags=["workflows"], status_code=200, **_COMMON)
async def unregister_workflow(request: Request[Any, Any, Any], dataset_name: FromPath[str]) -> Response[WorkflowRunResult]:
    """Delete the MANUAL workflow (a CODE one: 403 / DLI-803)."""
    _only(request, set())
    return _json(await _call(request, "unregister", validate_dataset_name(dataset_name)))


@post("/api/v1/workflows/{dataset_name:str}/run", tags=["runs"], status_code=200, **_COMMON)
async def run_workflow(
    request: Request[Any, Any, Any], dataset_name: FromPath[str], data: JSONBody[RunRequest | None] = None
) -> Response[WorkflowRunResult]:
    """Trigger an adhoc run as the token's user (``dry_run`` only validates the parameters)."""
    _only(request, set())
    validate_dataset_name(dataset_name)
    body = await _body(request, RunRequest, empty_ok=True)
    return _json(await _call(request, "run", dataset_name, parameters=body.parameters, dry_run=body.dry_run))


@post("/api/v1/workflows/{dataset_name:str}/backfill", tags=["runs"], status_code=200, **_COMMON)
async def backfill_workflow(
    request: Request[Any, Any, Any], dataset_name: FromPath[str], data: JSONBody[BackfillRequest | None] = None
) -> Response[WorkflowRunResult]:
    """Run every date of the range in order, stopping after the first failure."""
    _only(request, set())
    validate_dataset_name(dataset_name)
    body = await _body(request, BackfillRequest)
    result = await _call(
        request,
        "backfill",
        dataset_name,
        start_date=body.start_date,
        end_date=body.end_date,
        parameters=body.parameters,
        dry_run=body.dry_run,
    )
    return _json(result)


@post("/api/v1/workflows/{dataset_name:str}/pause", tags=["workflows"], status_code=200, **_COMMON)
async def pause_workflow(
    request: Request[Any, Any, Any], dataset_name: FromPath[str], data: JSONBody[PauseRequest | None] = None
) -> Response[WorkflowRunResult]:
    """Pause the schedule (allowed for CODE workflows too)."""
    _only(request, set())
    validate_dataset_name(dataset_name)
    body = await _body(request, PauseRequest, empty_ok=True)
    return _json(await _call(request, "pause", dataset_name, source_type=body.source_type))


@post("/api/v1/workflows/{dataset_name:str}/unpause", tags=["workflows"], status_code=200, **_COMMON)
async def unpause_workflow(
    request: Request[Any, Any, Any], dataset_name: FromPath[str], data: JSONBody[PauseRequest | None] = None
) -> Response[WorkflowRunResult]:
    """Resume the schedule (an overridden MANUAL one: 409 / DLI-806)."""
    _only(request, set())
    validate_dataset_name(dataset_name)
    body = await _body(request, PauseRequest, empty_ok=True)
    return _json(await _call(request, "unpause", dataset_name, source_type=body.source_type))


# -- runs ----------------------------------------------------------------------------------------
# Run ids contain '@', ':' and '+' (e.g. 'shop.sales@scheduled__2025-01-01T09:00:00+00:00'):
# clients percent-encode them as one path segment.


@get("/api/v1/runs/{run_id:str}", tags=["runs"], **_COMMON)
async def run_status(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[WorkflowStatusResult]:
    """Status of one run."""
    _only(request, set())
    return _json(await _call(request, "get_status", run_id))


@post("/api/v1/runs/{run_id:str}/stop", tags=["runs"], status_code=200, **_COMMON)
async def stop_run(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[WorkflowRunResult]:
    """Kill a pending or running run (a finished one: 409 / DLI-807)."""
    _only(request, set())
    return _json(await _call(request, "stop", run_id))


@get("/api/v1/runs/{run_id:str}/logs", tags=["runs"], **_COMMON)
async def run_logs(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[RunLogs]:
    """Task logs of a run."""
    _only(request, set())
    return _json(await _call(request, "logs", run_id))


@get("/api/v1/history", tags=["runs"], **_COMMON)
async def history(
    request: Request[Any, Any, Any],
    dataset_name: FromQuery[str | None] = None,
    source_type: FromQuery[SourceType | None] = None,
    run_status: FromQuery[RunStatus | None] = None,
    limit: FromQuery[int] = 20,
    include_dataset_info: FromQuery[bool] = True,
) -> Response[WorkflowHistoryResult]:
    """Runs, newest first."""
    _only(request, {"dataset_name", "source_type", "run_status", "limit", "include_dataset_info"})
    query = HistoryQuery(
        dataset_name=validate_dataset_name(dataset_name) if dataset_name is not None else None,
        source_type=source_type,
        run_status=run_status,
        limit=limit,
        include_dataset_info=include_dataset_info,
    )
    return _json(await _call(request, "history", query))


# -- health and OpenAPI --------------------------------------------------------------------------


def _probe(url: str, check: Callable[[], object]) -> ComponentHealth:
    try:
        check()
    except DLIError as exc:
        return ComponentHealth(reachable=False, url=url, error=f"[{exc.code.value}] {exc.message}")
    except Exception as exc:  # a health check reports, it does not fail
        return ComponentHealth(reachable=False, url=url, error=type(exc).__name__)
    return ComponentHealth(reachable=True, url=url)


@get("/health", tags=["health"], security=[])
async def health(request: Request[Any, Any, Any]) -> Response[HealthReport]:
    """Reachability of the spec store and the orchestrator (no token needed). 503 when degraded."""
    settings = _settings(request)
    store = await anyio.to_thread.run_sync(
        _probe, settings.store.url, lambda: settings.store.inner.list_etags(SourceType.CODE)
    )
    orchestrator = await anyio.to_thread.run_sync(
        _probe, settings.orchestrator_url, settings.orchestrator.pause_states
    )
    ok = store.reachable and orchestrator.reachable
    report = HealthReport(
        status="ok" if ok else "degraded",
        version=dli.__version__,
        store=store,
        orchestrator=orchestrator,
        last_override_check=request.app.state.get("last_check"),
    )
    return _json(report, 200 if ok else 503)


@get("/openapi.json", tags=["health"], include_in_schema=False)
async def openapi_document(request: Request[Any, Any, Any]) -> Response[Any]:
    """The OpenAPI 3.1 document (no token needed)."""
    return Response(content=request.app.openapi_schema.to_schema(), media_type="application/json")


# -- error handlers --------------------------------------------------------------------------------


def _error_response(status: int, body: bytes) -> Response[Any]:
    return Response(content=body, status_code=status, media_type="application/json")


def _on_dli_error(_request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, DLIError)
    status = 400 if isinstance(exc, MalformedBodyError) else status_for(exc)
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
    if status == 404:
        body = error_bytes(ErrorCode.WORKFLOW_NOT_FOUND, f"Not found: {request.url.path}",
                           hints=("See /openapi.json for the endpoints.",))
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
    return _error_response(status, body)


def _on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)  # type: ignore[attr-defined]
    _log.error("unhandled_error", path=request.url.path, request_id=request_id, exc_info=exc)
    body = error_bytes(
        ErrorCode.SERVER_ERROR,
        "Internal server error",
        details={"request_id": request_id},
        hints=("The server logged the details under this request id.",),
    )
    return _error_response(500, body)


# -- the override check ----------------------------------------------------------------------------


async def _check_forever(app: Litestar, settings: ServerSettings) -> None:
    while True:
        try:
            await anyio.to_thread.run_sync(settings.store.check)
            app.state["last_check"] = dt.datetime.now(dt.timezone.utc)
        except DLIError as exc:
            _log.warning("override_check_failed", code=exc.code.value, error=exc.message)
        except Exception as exc:  # keep checking: the next one may succeed
            _log.error("override_check_crashed", exc_info=exc)
        await asyncio.sleep(settings.check_interval_seconds)


def create_app(settings: ServerSettings) -> Any:
    """The ASGI application: Litestar routes wrapped in the auth and logging middleware."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(_check_forever(app, settings))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Litestar(
        route_handlers=[
            list_workflows,
            register_workflow,
            get_workflow,
            workflow_live,
            unregister_workflow,
            run_workflow,
            backfill_workflow,
            pause_workflow,
            unpause_workflow,
            run_status,
            stop_run,
            run_logs,
            history,
            health,
            openapi_document,
        ],
        lifespan=[lifespan],
        exception_handlers={DLIError: _on_dli_error, HTTPException: _on_http_error, Exception: _on_unexpected},
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="Basecamp",
            version=dli.__version__,
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
    app.state["last_check"] = None
    return RequestMiddleware(app, tokens=settings.tokens, public_paths=PUBLIC_PATHS)
