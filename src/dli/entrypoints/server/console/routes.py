"""The console's pages and actions at ``/ui/``: server-rendered views over the same bus the API uses.

Every page builds the same messages the REST API decodes (``ListWorkflows``, ``GetWorkflow``,
``TriggerRun``...) and hands them to the server's bus as the signed-in caller, so the console does
nothing the API would not do, and the policy decides exactly as it does there. Which actions a page
offers is asked of the same pure ``decide``; an action the caller may not do is not offered, and
posting it anyway is refused by the bus (DLI-803) like an API call.

Who is calling: a request with ``Authorization: Bearer`` is signed in by it (proxies, tests), as an
API request is; a browser signs in once (a pasted token, or the OIDC authorization-code flow with
PKCE) and then carries the signed session cookie of ``session.py``. Every POST of a session carries
its CSRF token. Errors are pages with their DLI code and hints, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio.to_thread
import attrs
import structlog
from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.params import PathParameter
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from dli.domain.model.access import Identity, Policy, Target, Verb, decide
from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import AuthenticationError, DLIError, ErrorCode, ParameterInvalidError
from dli.entrypoints.server.console.session import (
    COOKIE,
    PRE_COOKIE,
    SESSION_SECONDS,
    Session,
    SessionCodec,
    same_token,
)
from dli.entrypoints.server.console.views import (
    duration_chart,
    duration_text,
    lineage_graph,
    next_fires,
    parameter_input,
)
from dli.entrypoints.server.errors import status_for
from dli.entrypoints.server.middleware import IDENTITY_SCOPE_KEY, REQUEST_ID_SCOPE_KEY, USER_SCOPE_KEY

if TYPE_CHECKING:
    from dli.domain.model.dependencies import WorkflowDependenciesResult
    from dli.domain.usecases.message import Message
    from dli.entrypoints.server.console.oidc import ConsoleOIDC
    from dli.entrypoints.server.identities import Authenticator

__all__ = ["CONSOLE_PATH", "STATIC_DIR", "TEMPLATE_DIR", "ConsoleState", "console_routes"]

CONSOLE_PATH = "/ui"
HERE = Path(__file__).parent
TEMPLATE_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
HISTORY_SHOWN = 20
MAX_LINEAGE_KEPT = 256
LINEAGE_STATES = 8
STATES_SECONDS = 5.0
"""Neighbours whose last run is looked up (one history query each)."""

_log = structlog.get_logger("dli.console")
R = TypeVar("R")

# What pages are shown after an action (a fixed text per key: nothing the request says is echoed).
DONE = {
    "paused": "The workflow is paused: its schedule starts no run until it is unpaused.",
    "unpaused": "The workflow is unpaused: its schedule starts runs again.",
    "stopped": "The run was stopped.",
    "signed_in": "You are signed in.",
}

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@attrs.define
class ConsoleState:
    """What the console needs besides the server's settings."""

    codec: SessionCodec
    authenticator: Authenticator
    oidc: ConsoleOIDC | None = None
    secure_cookies: bool = True
    """``Secure`` on the cookies (off only for tests over plain HTTP to a non-loopback host)."""
    lineage: dict[tuple[Any, ...], WorkflowDependenciesResult] = attrs.field(factory=dict)
    """Dependency answers by (dataset, caller, store version): the graph is built from every active
    spec (about 150 ms with 10,000 workflows), and it changes only when the store does."""

    states: dict[tuple[Any, ...], tuple[float, dict[str, RunStatus | None]]] = attrs.field(factory=dict)
    """The neighbours' last run states by (dataset, caller), until a monotonic time."""

    def remember_lineage(self, key: tuple[Any, ...], result: WorkflowDependenciesResult) -> None:
        if len(self.lineage) >= MAX_LINEAGE_KEPT:
            self.lineage.clear()
        self.lineage[key] = result


class _SignInNeeded(Exception):
    """No identity: a browser is sent to the sign-in page."""


@attrs.frozen
class Caller:
    """Who a console request is from, and the session it came with (``None``: a bearer header)."""

    identity: Identity
    session: Session | None

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session is not None else ""


def _state(request: Request[Any, Any, Any]) -> ConsoleState:
    state: ConsoleState = request.app.state["console"]
    return state


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state["settings"]


async def _caller(request: Request[Any, Any, Any]) -> Caller:
    """The signed-in caller: the bearer header's, else the session cookie's; sign-in needed otherwise."""
    state = _state(request)
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("Missing bearer token", hints=("Send 'Authorization: Bearer <token>'.",))
        identity = await anyio.to_thread.run_sync(state.authenticator.identity, token)
        if identity is None:
            raise AuthenticationError("Invalid API token", hints=("Sign in again with a valid token.",))
        caller = Caller(identity=identity, session=None)
    else:
        session = state.codec.session(request.cookies.get(COOKIE))
        if session is None:
            raise _SignInNeeded
        caller = Caller(identity=session.identity, session=session)
    request.scope[USER_SCOPE_KEY] = caller.identity.name  # type: ignore[literal-required]
    request.scope[IDENTITY_SCOPE_KEY] = caller.identity  # type: ignore[literal-required]
    return caller


async def _ask(request: Request[Any, Any, Any], caller: Caller, message: Message[R]) -> R:
    """``message`` handled by the server's bus as ``caller`` (off the event loop: handlers block)."""
    bus = _settings(request).bus
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)

    def handle() -> R:
        result: R = bus.handle(message, caller=caller.identity, request_id=request_id)
        return result

    if not message.verb.writes:
        return await anyio.to_thread.run_sync(handle)
    try:
        return await anyio.to_thread.run_sync(handle)
    finally:
        # The API reuses list answers until something is written: a write here counts as one.
        answers = request.app.state.get("answers")
        if answers is not None:
            answers.writes += 1


async def _check_csrf(request: Request[Any, Any, Any], caller: Caller) -> dict[str, str]:
    """The posted form, once its CSRF token is checked (a bearer request has no ambient credentials: none needed)."""
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    if caller.session is not None and not same_token(fields.get("csrf"), caller.session.csrf):
        raise _CsrfRefused
    return fields


class _CsrfRefused(Exception):
    """A form posted without this session's CSRF token."""


def _page(
    request: Request[Any, Any, Any], template: str, caller: Caller | None, status: int = 200, **context: Any
) -> Template:
    state = _state(request)
    return Template(
        template_name=template,
        context={
            "caller": caller.identity if caller else None,
            "csrf": caller.csrf if caller else context.pop("csrf", ""),
            "oidc": state.oidc is not None,
            **context,
        },
        status_code=status,
        headers=_headers(state),
    )


def _headers(_state: ConsoleState) -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _cookie(state: ConsoleState, key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path=CONSOLE_PATH,
        httponly=True,
        secure=state.secure_cookies,
        samesite="lax",
    )


def quote(value: str) -> str:
    """One path segment (run ids hold '@', ':' and '+')."""
    return urllib.parse.quote(value, safe="@:")


def _policy(request: Request[Any, Any, Any]) -> Policy:
    policy: Policy | None = _settings(request).bus.policy
    return policy if policy is not None else Policy.open()


def allowed_verbs(
    policy: Policy, identity: Identity, team: str | None, source: SourceType | None, name: str
) -> set[Verb]:
    """The verbs ``identity`` may use on the workflow (asked of ``decide``, as the bus asks it)."""
    target = Target(team=team, source=source, dataset=name)
    return {verb for verb in Verb if decide(policy, identity, verb, target).allowed}


def _query(request: Request[Any, Any, Any], name: str) -> str | None:
    value = request.query_params.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


# -- pages -----------------------------------------------------------------------------------------


@get("/", name="console_home", include_in_schema=False)
async def home() -> Redirect:
    """The console's start page is the workflows list."""
    return Redirect(CONSOLE_PATH + "/workflows", status_code=303)


@get("/workflows", name="console_workflows", include_in_schema=False)
async def workflows_page(request: Request[Any, Any, Any]) -> Template:
    """The workflows, filtered and paged like ``dli workflow list``."""
    from dli.domain.usecases.listing import ListWorkflows

    caller = await _caller(request)
    raw_limit = _query(request, "limit")
    try:
        limit = int(raw_limit) if raw_limit else PAGE_SIZE
    except ValueError:
        raise ParameterInvalidError(f"limit must be a whole number, got {raw_limit!r}") from None
    filters = {
        "source": _query(request, "source"),
        "status": _query(request, "status"),
        "q": _query(request, "q"),
        "team": _query(request, "team"),
    }
    message = ListWorkflows(
        source_type=filters["source"],
        status=filters["status"],
        dataset_filter=filters["q"],
        team=filters["team"],
        limit=min(limit, MAX_PAGE_SIZE),
        after=_query(request, "after"),
    )
    result = await _ask(request, caller, message)
    kept = {k: v for k, v in filters.items() if v}
    next_url = None
    if result.next_cursor:
        next_url = "?" + urllib.parse.urlencode(
            {**kept, "after": result.next_cursor, **({"limit": limit} if raw_limit else {})}
        )
    return _page(
        request,
        "workflows.html",
        caller,
        title="Workflows",
        result=result,
        filters=filters,
        sources=[s.value for s in SourceType],
        statuses=[s.value for s in WorkflowStatus],
        next_url=next_url,
        first_url=("?" + urllib.parse.urlencode(kept)) if _query(request, "after") else None,
    )


@get("/workflows/{name:str}", name="console_workflow", include_in_schema=False)
async def workflow_page(request: Request[Any, Any, Any], name: Annotated[str, PathParameter()]) -> Template:
    """One workflow: spec, schedule, runs, lineage, audit trail, and the actions the caller may take."""
    from dli.domain.model.enums import DependencyDirection
    from dli.domain.usecases.audit import GetAuditTrail
    from dli.domain.usecases.dependencies import GetDependencies
    from dli.domain.usecases.history import GetHistory
    from dli.domain.usecases.listing import GetSpec, GetWorkflow

    caller = await _caller(request)
    document = await _ask(request, caller, GetSpec(dataset_name=name))
    info = await _ask(request, caller, GetWorkflow(dataset_name=name))
    history = await _ask(
        request, caller, GetHistory(dataset_name=name, limit=HISTORY_SHOWN, include_dataset_info=False)
    )
    store = _settings(request).store
    key = (name, caller.identity, getattr(store, "version", None))
    deps = _state(request).lineage.get(key) if key[2] is not None else None
    if deps is None:
        deps = await _ask(
            request, caller, GetDependencies(dataset_name=name, direction=DependencyDirection.BOTH, depth=2)
        )
        if key[2] is not None and getattr(store, "version", None) == key[2]:  # nothing changed meanwhile
            _state(request).remember_lineage(key, deps)
    states: dict[str, RunStatus | None] = {}
    if history.runs:
        states[name] = history.runs[0].status
    states.update(await _neighbour_states(request, caller, name, deps))
    audit = None
    try:
        audit = await _ask(request, caller, GetAuditTrail(dataset_name=name, limit=HISTORY_SHOWN))
    except (DLIError, TypeError):  # a bus without an audit trail (in-process tests)
        audit = None
    spec = document.spec
    verbs = allowed_verbs(_policy(request), caller.identity, spec.team, document.source_type, name)
    now = dt.datetime.now(dt.UTC)
    done = _query(request, "done")
    return _page(
        request,
        "workflow.html",
        caller,
        title=name,
        name=name,
        document=document,
        spec=spec,
        info=info,
        runs=history.runs,
        chart=duration_chart(history.runs),
        graph=lineage_graph(name, deps.nodes, deps.edges, states, href=CONSOLE_PATH + "/workflows/"),
        audit=audit,
        fires=next_fires(info.cron, info.timezone, now=now),
        verbs={v.value for v in verbs},
        done=DONE.get(done or ""),
        duration=duration_text,
        quote=quote,
    )


@get("/runs/{run_id:str}", name="console_run", include_in_schema=False)
async def run_page(request: Request[Any, Any, Any], run_id: Annotated[str, PathParameter()]) -> Template:
    """One run: its status, and its task logs once there are some."""
    from dli.domain.model.runs import split_run_id
    from dli.domain.usecases.listing import GetSpec
    from dli.domain.usecases.runs import GetRunLogs, GetRunStatus

    caller = await _caller(request)
    status = await _ask(request, caller, GetRunStatus(run_id=run_id))
    logs = None
    logs_error = None
    try:
        logs = await _ask(request, caller, GetRunLogs(run_id=run_id))
    except DLIError as exc:
        logs_error = f"[{exc.code.value}] {exc.message}"
    name = split_run_id(run_id)[0]
    verbs: set[Verb] = set()
    try:
        document = await _ask(request, caller, GetSpec(dataset_name=name))
        verbs = allowed_verbs(_policy(request), caller.identity, document.spec.team, document.source_type, name)
    except DLIError:
        pass  # a deleted workflow's run: nothing to offer
    return _page(
        request,
        "run.html",
        caller,
        title=f"Run {run_id}",
        name=name,
        run_id=run_id,
        run=status,
        logs=logs,
        logs_error=logs_error,
        can_stop=Verb.STOP in verbs and status.run_status in (RunStatus.PENDING, RunStatus.RUNNING),
        done=DONE.get(_query(request, "done") or ""),
        duration=duration_text,
        quote=quote,
    )


async def _neighbour_states(
    request: Request[Any, Any, Any], caller: Caller, name: str, deps: WorkflowDependenciesResult
) -> dict[str, RunStatus | None]:
    """The last run's status of the direct neighbours (one history query each, at most ``LINEAGE_STATES``),
    kept ``STATES_SECONDS`` per caller: run states change, but not between two page views a second apart."""
    from dli.domain.usecases.history import GetHistory

    state = _state(request)
    key = ("states", name, caller.identity)
    kept = state.states.get(key)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    found: dict[str, RunStatus | None] = {}
    for node in [n for n in deps.nodes if not n.external and n.distance == 1][:LINEAGE_STATES]:
        try:
            last = await _ask(request, caller, GetHistory(dataset_name=node.name, limit=1, include_dataset_info=False))
        except DLIError:  # a team the caller may not view: its state stays unknown
            continue
        found[node.name] = last.runs[0].status if last.runs else None
    if len(state.states) >= MAX_LINEAGE_KEPT:
        state.states.clear()
    state.states[key] = (time.monotonic() + STATES_SECONDS, found)
    return found


# -- actions: a confirmation page (GET), then the operation (POST) -----------------------------------

ACTIONS = {"run": Verb.RUN, "backfill": Verb.BACKFILL, "pause": Verb.PAUSE, "unpause": Verb.UNPAUSE}


def _verb(action: str) -> Verb:
    verb = ACTIONS.get(action)
    if verb is None:
        raise _NotFound(f"No action '{action}'")
    return verb


class _NotFound(Exception):
    """A console path that names nothing."""


def _parameters(spec: Any) -> list[dict[str, Any]]:
    shown = []
    for parameter in spec.parameters:
        kind, step = parameter_input(parameter.type)
        shown.append({"p": parameter, "input": kind, "step": step})
    return shown


@get("/workflows/{name:str}/{action:str}", name="console_confirm", include_in_schema=False)
async def confirm_page(
    request: Request[Any, Any, Any], name: Annotated[str, PathParameter()], action: Annotated[str, PathParameter()]
) -> Template:
    """What the action will do, with its form (the spec's declared parameters, a date range), to confirm."""
    from dli.domain.usecases.listing import GetSpec, GetWorkflow

    verb = _verb(action)
    caller = await _caller(request)
    document = await _ask(request, caller, GetSpec(dataset_name=name))
    info = await _ask(request, caller, GetWorkflow(dataset_name=name))
    allowed = verb in allowed_verbs(_policy(request), caller.identity, document.spec.team, document.source_type, name)
    return _page(
        request,
        "confirm.html",
        caller,
        status=200 if allowed else 403,
        title=f"{action.capitalize()} {name}",
        name=name,
        action=action,
        allowed=allowed,
        info=info,
        parameters=_parameters(document.spec),
        today=dt.date.today().isoformat(),
        quote=quote,
    )


def _given_parameters(fields: dict[str, str]) -> dict[str, str]:
    """The form's ``param.NAME`` fields that were filled in (an empty one is left to the spec's default)."""
    return {key[6:]: value for key, value in fields.items() if key.startswith("param.") and value.strip() != ""}


@post("/workflows/{name:str}/{action:str}", name="console_act", include_in_schema=False, status_code=303)
async def act(
    request: Request[Any, Any, Any], name: Annotated[str, PathParameter()], action: Annotated[str, PathParameter()]
) -> Response[Any]:
    """The confirmed action, through the bus as the caller (refused there when the policy says no)."""
    from dli.domain.usecases.backfill import TriggerBackfill
    from dli.domain.usecases.pause import PauseWorkflow, UnpauseWorkflow
    from dli.domain.usecases.runs import TriggerRun

    verb = _verb(action)
    caller = await _caller(request)
    fields = await _check_csrf(request, caller)
    base = f"{CONSOLE_PATH}/workflows/{quote(name)}"
    if verb is Verb.RUN:
        run = await _ask(request, caller, TriggerRun(dataset_name=name, parameters=_given_parameters(fields)))
        target = f"{CONSOLE_PATH}/runs/{quote(run.run_id)}" if run.run_id else base
        return Redirect(target, status_code=303)
    if verb is Verb.BACKFILL:
        result = await _ask(
            request,
            caller,
            TriggerBackfill(
                dataset_name=name,
                start_date=fields.get("start_date", ""),
                end_date=fields.get("end_date", ""),
                parameters=_given_parameters(fields),
                with_downstream=fields.get("with_downstream") == "on",
            ),
        )
        return _page(
            request,
            "done.html",
            caller,
            title=f"Backfill of {name}",
            name=name,
            result=result,
            quote=quote,
        )
    message = PauseWorkflow(dataset_name=name) if verb is Verb.PAUSE else UnpauseWorkflow(dataset_name=name)
    await _ask(request, caller, message)
    return Redirect(f"{base}?done={'paused' if verb is Verb.PAUSE else 'unpaused'}", status_code=303)


@get("/runs/{run_id:str}/stop", name="console_confirm_stop", include_in_schema=False)
async def confirm_stop(request: Request[Any, Any, Any], run_id: Annotated[str, PathParameter()]) -> Template:
    """Confirm stopping a run."""
    from dli.domain.model.runs import split_run_id
    from dli.domain.usecases.listing import GetSpec

    caller = await _caller(request)
    name = split_run_id(run_id)[0]
    document = await _ask(request, caller, GetSpec(dataset_name=name))
    allowed = Verb.STOP in allowed_verbs(
        _policy(request), caller.identity, document.spec.team, document.source_type, name
    )
    return _page(
        request,
        "confirm.html",
        caller,
        status=200 if allowed else 403,
        title=f"Stop {run_id}",
        name=name,
        action="stop",
        run_id=run_id,
        allowed=allowed,
        info=None,
        parameters=[],
        today="",
        quote=quote,
    )


@post("/runs/{run_id:str}/stop", name="console_stop", include_in_schema=False, status_code=303)
async def stop(request: Request[Any, Any, Any], run_id: Annotated[str, PathParameter()]) -> Redirect:
    """Stop the run, as the caller."""
    from dli.domain.usecases.runs import StopRun

    caller = await _caller(request)
    await _check_csrf(request, caller)
    await _ask(request, caller, StopRun(run_id=run_id))
    return Redirect(f"{CONSOLE_PATH}/runs/{quote(run_id)}?done=stopped", status_code=303)


# -- sign-in -----------------------------------------------------------------------------------------


def _next(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value and value.startswith(CONSOLE_PATH + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return CONSOLE_PATH + "/workflows"


@get("/signin", name="console_signin", include_in_schema=False)
async def signin_page(request: Request[Any, Any, Any]) -> Template:
    """The sign-in form: paste an API token (or a JWT of the issuer), or sign in with the issuer."""
    return _signin(request, status=200, error=None)


def _signin(request: Request[Any, Any, Any], *, status: int, error: DLIError | None) -> Template:
    state = _state(request)
    token = secrets.token_urlsafe(24)
    page = _page(
        request,
        "signin.html",
        None,
        status=status,
        title="Sign in",
        csrf=token,
        next=_next(_query(request, "next")),
        error=error,
    )
    page.cookies.append(_cookie(state, PRE_COOKIE, state.codec.pre({"csrf": token}), 600))
    return page


@post("/signin", name="console_signin_post", include_in_schema=False, status_code=303)
async def signin(request: Request[Any, Any, Any]) -> Response[Any]:
    """A pasted token checked by the API's authenticators; the session cookie holds who it named, not it."""
    state = _state(request)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    pre = state.codec.read_pre(request.cookies.get(PRE_COOKIE))
    if not same_token(fields.get("csrf"), pre.get("csrf", "")):
        raise _CsrfRefused
    token = fields.get("token", "").strip()
    identity = await anyio.to_thread.run_sync(state.authenticator.identity, token) if token else None
    if identity is None:
        _log.info("console_signin_refused")
        error = AuthenticationError(
            "That token was not accepted",
            hints=("Paste a token of 'basecamp token add', or the ID token of 'dli auth login'.",),
        )
        return _signin(request, status=401, error=error)
    return _signed_in(state, identity, _next(fields.get("next")))


def _signed_in(state: ConsoleState, identity: Identity, target: str) -> Response[Any]:
    _session, value = state.codec.new_session(identity)
    _log.info("console_signed_in", user=identity.name, method=identity.method.value)
    return Redirect(
        target,
        status_code=303,
        cookies=[_cookie(state, COOKIE, value, SESSION_SECONDS), _cookie(state, PRE_COOKIE, "", 0)],
    )


@post("/signout", name="console_signout", include_in_schema=False, status_code=303)
async def signout(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session (the cookie is deleted)."""
    state = _state(request)
    try:
        caller = await _caller(request)
        await _check_csrf(request, caller)
    except _SignInNeeded:
        pass
    return Redirect(CONSOLE_PATH + "/signin", status_code=303, cookies=[_cookie(state, COOKIE, "", 0)])


@get("/oidc/start", name="console_oidc_start", include_in_schema=False)
async def oidc_start(request: Request[Any, Any, Any]) -> Redirect:
    """Off to the issuer's sign-in page (authorization code with PKCE, S256)."""
    state = _state(request)
    if state.oidc is None:
        raise _NotFound("This server has no OpenID Connect issuer")
    redirect_uri = str(request.base_url).rstrip("/") + CONSOLE_PATH + "/oidc/callback"
    url, kept = await anyio.to_thread.run_sync(state.oidc.start, redirect_uri)
    kept["next"] = _next(_query(request, "next"))
    return Redirect(url, status_code=303, cookies=[_cookie(state, PRE_COOKIE, state.codec.pre(kept), 600)])


@get("/oidc/callback", name="console_oidc_callback", include_in_schema=False)
async def oidc_callback(request: Request[Any, Any, Any]) -> Response[Any]:
    """The issuer's answer: the code exchanged (with the PKCE verifier), the ID token verified, a session."""
    state = _state(request)
    if state.oidc is None:
        raise _NotFound("This server has no OpenID Connect issuer")
    kept = state.codec.read_pre(request.cookies.get(PRE_COOKIE))
    if not kept or not same_token(_query(request, "state"), kept.get("state", "")):
        raise AuthenticationError("Sign-in with the issuer failed: the state does not match", hints=("Sign in again.",))
    if _query(request, "error"):
        raise AuthenticationError("The issuer refused the sign-in", hints=("Sign in again.",))
    code = _query(request, "code") or ""
    identity = await anyio.to_thread.run_sync(state.oidc.finish, code, kept)
    return _signed_in(state, identity, _next(kept.get("next")))


# -- errors as pages ---------------------------------------------------------------------------------


def _error_page(
    request: Request[Any, Any, Any], status: int, code: str, message: str, hints: tuple[str, ...]
) -> Template:
    return _page(
        request,
        "error.html",
        None,
        status=status,
        title=f"Error {code}",
        code=code,
        message=message,
        hints=hints,
        request_id=request.scope.get(REQUEST_ID_SCOPE_KEY),
    )


def _on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, _SignInNeeded):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"{CONSOLE_PATH}/signin?" + urllib.parse.urlencode({"next": target}), status_code=303)
    if isinstance(exc, _CsrfRefused):
        return _error_page(
            request,
            403,
            ErrorCode.AUTH_FAILED.value,
            "The form was not sent from this console page (its CSRF token is missing or stale)",
            ("Reload the page and try again.",),
        )
    if isinstance(exc, DLIError):
        status = getattr(exc, "http_status", None) or status_for(exc)
        return _error_page(request, status, exc.code.value, exc.message, tuple(exc.hints))
    if isinstance(exc, _NotFound):
        return _error_page(request, 404, ErrorCode.WORKFLOW_NOT_FOUND.value, str(exc), ())
    if isinstance(exc, HTTPException):
        code = ErrorCode.WORKFLOW_NOT_FOUND if exc.status_code == 404 else ErrorCode.PARAMETER_INVALID
        return _error_page(request, exc.status_code, code.value, f"{exc.detail}: {request.url.path}", ())
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)
    _log.error("console_error", path=request.url.path, request_id=request_id, exc_info=exc)
    return _error_page(
        request,
        500,
        ErrorCode.SERVER_ERROR.value,
        "Internal server error",
        ("The server logged the details under this request id.",),
    )


def console_routes() -> list[Any]:
    """The console's router at ``/ui`` and its static files."""
    handlers: list[Callable[..., Any]] = [
        home,
        workflows_page,
        workflow_page,
        run_page,
        confirm_page,
        act,
        confirm_stop,
        stop,
        signin_page,
        signin,
        signout,
        oidc_start,
        oidc_callback,
    ]
    router = Router(
        path=CONSOLE_PATH,
        route_handlers=handlers,
        # Every kind the app maps to JSON, mapped here to pages (the most specific type wins, whichever layer).
        exception_handlers={DLIError: _on_error, HTTPException: _on_error, Exception: _on_error},
        include_in_schema=False,
        security=[],
    )
    static = create_static_files_router(
        path=CONSOLE_PATH + "/static", directories=[STATIC_DIR], name="console_static", include_in_schema=False
    )
    return [router, static]
