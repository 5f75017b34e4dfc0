"""Litestar routes derived from the operations table: one route per row, none written by hand.

Each route turns the request into its operation's message (validated once, by the message and the
wire codec, before anything runs), hands it to the bus as the token's user in a worker thread (the
handlers are synchronous), and answers with the result's JSON. The signature Litestar sees is
built from the message's fields, so the OpenAPI document has a typed schema per operation: path
and query parameters, the request body, the result.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
import attrs
from litestar import Request, Response, route
from litestar.enums import HttpMethod
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Reference, RequestBody
from litestar.openapi.spec import Operation as OpenAPIOperation
from litestar.openapi.spec import Parameter as OpenAPIParameter
from litestar.openapi.spec import Schema as OpenAPISchema
from litestar.params import JSONBody, ParameterKwarg, PathParameter, QueryParameter
from litestar.plugins import OpenAPISchemaPluginProtocol
from litestar.plugins.attrs import AttrsSchemaPlugin

from dli.domain.model.errors import ParameterInvalidError
from dli.entrypoints.server.middleware import IDENTITY_SCOPE_KEY, REQUEST_ID_SCOPE_KEY, USER_SCOPE_KEY

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

    from dli.adapters.basecamp.operations import Operation

__all__ = ["ERROR_RESPONSES", "Answers", "BodySchemaPlugin", "build_routes"]

BODY_MARK = "__dli_body__"
"""Set on the generated body classes; ``BodySchemaPlugin`` documents them as closed objects."""


def _documented(kind: Any, keywords: dict[str, Any], where: type[ParameterKwarg] | None = None) -> Any:
    """``kind`` carrying JSON Schema ``keywords`` for the document only (validation stays the message's)."""
    if where is not None:
        return Annotated[kind, where(schema_extra=keywords or None)]
    return Annotated[kind, ParameterKwarg(schema_extra=keywords)] if keywords else kind


def _actor(request: Request[Any, Any, Any]) -> str | None:
    """The authenticated user the middleware put into the request's scope."""
    user = request.scope.get(USER_SCOPE_KEY)
    return user if isinstance(user, str) else None


def _generic(alias: Any, argument: type) -> Any:
    """``alias[argument]`` for a class made at run time: annotations the framework reads, not mypy."""
    return alias[argument]


def _body_class(op: Operation) -> type:
    """An attrs class of the body's fields, for the OpenAPI document only (parsing is the codec's)."""
    fields = {}
    for attribute in op.payload_fields:
        kind = _documented(op.wire_types.get(attribute.name, attribute.type), op.field_schema(attribute.name))
        default = attribute.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            fields[attribute.name] = attrs.field(type=kind, factory=default.factory)  # type: ignore[union-attr]
        elif default is attrs.NOTHING:
            fields[attribute.name] = attrs.field(type=kind)
        else:
            fields[attribute.name] = attrs.field(type=kind, default=default)
    name = op.message.__name__ + "Body"
    cls = attrs.make_class(name, fields, frozen=True, kw_only=True)
    cls.__doc__ = f"Body of {op.method} {op.path}."
    setattr(cls, BODY_MARK, True)
    return cls


class BodySchemaPlugin(OpenAPISchemaPluginProtocol):
    """Documents the generated body classes as the server parses them: unknown fields are refused."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return isinstance(value, type) and getattr(value, BODY_MARK, False)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> OpenAPISchema:
        schema = AttrsSchemaPlugin().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


_MOVED = (
    "pattern",
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "format",
    "examples",
    "description",
    "any_of",
    "schema_not",
)


def _present(schema: OpenAPISchema | Reference) -> OpenAPISchema | Reference:
    """``X`` for the ``oneOf: [X, null]`` of an optional query parameter: absent on the wire, never null.

    Litestar parses the parameter as ``X | None`` (``None`` when absent) and documents it so; the
    keywords it put on the ``oneOf`` (``_documented``) move to ``X``.
    """
    if not isinstance(schema, OpenAPISchema) or not schema.one_of:
        return schema
    present = [m for m in schema.one_of if not (isinstance(m, OpenAPISchema) and m.type == OpenAPIType.NULL)]
    if len(present) != 1 or len(present) == len(schema.one_of):
        return schema
    (member,) = present
    moved = {name: value for name in _MOVED if (value := getattr(schema, name)) is not None}
    if not moved:
        return member
    if isinstance(member, Reference):
        return OpenAPISchema(all_of=[member], **moved)
    return dataclasses.replace(member, **moved)


def _operation_class(op: Operation) -> type[OpenAPIOperation]:
    """The OpenAPI operation of ``op``: its body required only when some field of it is, its optional
    query parameters documented as what they are on the wire (absent or a value, never null)."""

    @dataclasses.dataclass
    class Documented(OpenAPIOperation):
        def __post_init__(self) -> None:
            if isinstance(self.request_body, RequestBody):
                self.request_body.required = op.body_required
            for parameter in self.parameters or ():
                if isinstance(parameter, OpenAPIParameter) and parameter.param_in == "query" and parameter.schema:
                    parameter.schema = _present(parameter.schema)

    return Documented


def _signature(op: Operation) -> tuple[inspect.Signature, dict[str, Any]]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("request", kw, annotation=Request)]
    for name in op.path_fields:
        params.append(inspect.Parameter(name, kw, annotation=_documented(str, op.field_schema(name), PathParameter)))
    if op.method == "GET":
        for attribute in op.payload_fields:
            kind = _documented(attribute.type, op.field_schema(attribute.name), QueryParameter)
            params.append(inspect.Parameter(attribute.name, kw, annotation=kind, default=attribute.default))
    elif op.has_body:
        # The route parses nothing itself (``before`` decodes the body strictly); an absent body is
        # None here, and the document says whether the operation needs one (``_operation_class``).
        body = _body_class(op)
        params.append(inspect.Parameter("data", kw, annotation=_generic(JSONBody, body), default=None))
    returns = _generic(Response, op.result)
    annotations = {p.name: p.annotation for p in params}
    annotations["return"] = returns
    return inspect.Signature(params, return_annotation=returns), annotations


def _check_query(request: Request[Any, Any, Any], op: Operation) -> None:
    allowed = {a.name for a in op.payload_fields} if op.method == "GET" else set()
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise ParameterInvalidError(
            f"Unknown query parameter(s): {', '.join(unknown)}",
            hints=(f"Allowed: {', '.join(sorted(allowed)) or 'none'}.",),
        )


_MAX_CACHED = 256  # answers kept per cacheable route


@attrs.define
class Answers:
    """Answers of cacheable GETs, reused until they expire, the store changes or anything is written."""

    writes: int = 0
    """Bumped by every request that is not a GET: an answer computed before it is not reused."""
    kept: dict[tuple[Any, ...], tuple[float, int, bytes]] = attrs.field(factory=dict)

    def get(self, key: tuple[Any, ...]) -> tuple[int, bytes] | None:
        hit = self.kept.get(key)
        if hit is None or hit[0] <= time.monotonic():
            return None
        return hit[1], hit[2]

    def put(self, key: tuple[Any, ...], seconds: float, status: int, body: bytes) -> None:
        if len(self.kept) >= _MAX_CACHED:
            now = time.monotonic()
            self.kept = {k: v for k, v in self.kept.items() if v[0] > now}
            if len(self.kept) >= _MAX_CACHED:
                self.kept.clear()
        self.kept[key] = (time.monotonic() + seconds, status, body)


def _make_route(op: Operation, settings_of: Callable[[Request[Any, Any, Any]], Any], answers: Answers) -> Any:
    async def before(request: Request[Any, Any, Any]) -> None:
        # Runs before the framework reads the body: the message is decoded here, once, strictly.
        # The query is read here too, strictly: the framework would take 'null' for no value and
        # the last of a repeated parameter, neither of which the document allows.
        _check_query(request, op)
        request.scope["dli.message"] = op.decode(  # type: ignore[typeddict-unknown-key]
            path={name: request.path_params[name] for name in op.path_fields},
            query=list(request.query_params.multi_items()) if op.method == "GET" else (),
            body=b"" if op.method == "GET" else await request.body(),
            content_type=request.headers.get("content-type"),
            actor=_actor(request),
        )

    async def endpoint(request: Request[Any, Any, Any], **kwargs: Any) -> Response[Any]:
        settings = settings_of(request)
        if op.method != "GET":
            try:
                return await _handle(request, settings, kwargs)
            finally:
                answers.writes += 1
        if op.cache_seconds <= 0:
            return await _handle(request, settings, kwargs)
        # The caller is part of the key: with a policy, callers of different teams see different rows.
        caller = request.scope.get(IDENTITY_SCOPE_KEY)
        key = (request.scope["path"], request.scope.get("query_string"), caller, settings.store.version, answers.writes)
        hit = answers.get(key)
        if hit is None:
            status, body = await _answer(request, settings, kwargs)
            if key[3:] == (settings.store.version, answers.writes):  # nothing changed meanwhile
                answers.put(key, op.cache_seconds, status, body)
        else:
            status, body = hit
        return Response(content=body, status_code=status, media_type="application/json")

    async def _handle(request: Request[Any, Any, Any], settings: Any, kwargs: dict[str, Any]) -> Response[Any]:
        status, body = await _answer(request, settings, kwargs)
        return Response(content=body, status_code=status, media_type="application/json")

    async def _answer(request: Request[Any, Any, Any], settings: Any, kwargs: dict[str, Any]) -> tuple[int, bytes]:
        message = request.scope["dli.message"]  # type: ignore[typeddict-item]
        caller = request.scope.get(IDENTITY_SCOPE_KEY)
        request_id = request.scope.get(REQUEST_ID_SCOPE_KEY)

        def handle() -> tuple[int, bytes]:
            # Encoding a page of rows costs as much as computing it: both stay off the event loop.
            result = settings.bus.handle(message, caller=caller, request_id=request_id)
            return op.success_status(result), settings.body(result)

        return await anyio.to_thread.run_sync(handle)

    signature, annotations = _signature(op)
    endpoint.__signature__ = signature  # type: ignore[attr-defined]
    endpoint.__annotations__ = annotations
    endpoint.__name__ = endpoint.__qualname__ = op.message.__name__
    endpoint.__doc__ = inspect.getdoc(op.message)
    responses = dict(ERROR_RESPONSES)
    if op.created:  # 201 for a new one, 200 when an existing one was replaced
        responses[200] = ResponseSpec(
            data_container=op.result,
            generate_examples=False,
            description="Replaced an existing one, or a dry run (nothing written)",
        )
    return route(
        _litestar_path(op.path),
        http_method=[HttpMethod(op.method)],
        name=op.message.__name__,
        operation_id=op.message.__name__,
        summary=(endpoint.__doc__ or "").split("\n")[0],
        tags=[op.tag],
        status_code=201 if op.created else 200,
        before_request=before,
        responses=responses,
        security=[{"bearer": []}],
        operation_class=_operation_class(op),
    )(endpoint)


def _litestar_path(path: str) -> str:
    return path.replace("}", ":str}")


def _options_route(path: str, methods: list[str]) -> Any:
    """``OPTIONS path``: 204 with ``Allow`` listing every method of the path.

    Litestar makes one for each route, but when several routes share a path it keeps the first
    one's, which lists only that route's method.
    """
    allow = ", ".join(sorted({*methods, "OPTIONS"}))

    async def options() -> Response[None]:
        return Response(content=None, status_code=204, headers={"Allow": allow})

    return route(path, http_method=["OPTIONS"], name=f"options {path}", include_in_schema=False)(options)


def _error_responses() -> dict[int, Any]:
    from dli.entrypoints.server.errors import ErrorBody

    return {
        status: ResponseSpec(data_container=ErrorBody, generate_examples=False, description=description)
        for status, description in (
            (400, "Malformed request: not JSON, not UTF-8 (DLI-204)"),
            (401, "Missing or invalid bearer token (DLI-502)"),
            (403, "Not allowed: a CODE workflow's spec, or a role the policy does not give the caller (DLI-803)"),
            (404, "No such workflow or run (DLI-800)"),
            (405, "Method not allowed on this path; the Allow header lists the allowed ones (DLI-204)"),
            (409, "Already exists, overridden or invalid state (DLI-801, DLI-804, DLI-806, DLI-807)"),
            (413, "Request body too large (DLI-204)"),
            (415, "Request body not sent as application/json (DLI-204)"),
            (422, "Invalid input (DLI-203, DLI-204, DLI-805)"),
            (500, "Unexpected server error, logged under details.request_id (DLI-503)"),
            (502, "The orchestrator failed to execute (DLI-802)"),
            (
                503,
                "Spec store or orchestrator unavailable or refusing, named in the message (DLI-503, DLI-001, DLI-808)",
            ),
        )
    }


ERROR_RESPONSES = _error_responses()


def build_routes(
    operations: tuple[Operation, ...],
    settings_of: Callable[[Request[Any, Any, Any]], Any],
    answers: Answers | None = None,
) -> list[Any]:
    """One Litestar route per operation, and one ``OPTIONS`` route per path (first: Litestar keeps it).

    ``answers``: the reused answers of cacheable GETs (the web console bumps its ``writes`` too).
    """
    methods: dict[str, list[str]] = {}
    for op in operations:
        methods.setdefault(_litestar_path(op.path), []).append(op.method)
    options = [_options_route(path, path_methods) for path, path_methods in methods.items()]
    answers = answers if answers is not None else Answers()
    return [*options, *(_make_route(op, settings_of, answers) for op in operations)]
