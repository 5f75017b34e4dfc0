"""The Basecamp REST API as one table, derived from the message classes: each operation's message,
HTTP method and path (its ``route``), and result (its ``Message[R]``).

The HTTP client (``client.py``) and the server's routes (``dli.entrypoints.server.routes``) are both
derived from ``operations()``, and both use the wire codec below, so the two cannot drift from each
other or from the in-process bus.

The wire form of a message: fields named in the path go in the path (one percent-encoded segment
each), the other fields (but ``actor``, which the server takes from the token) go in the query of a
GET or the JSON body of anything else. ``RegisterWorkflow.spec`` travels as the YAML mapping a user
writes (``spec_to_dict``), so the API accepts what a spec file holds.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import types
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import attrs
import cattrs

from dli.adapters.codecs.specs import spec_from_dict, spec_json_schema, spec_to_dict
from dli.adapters.codecs.sql_templates import check_templates
from dli.domain.model.enums import DependencyDirection, RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import DLIError, ParameterInvalidError
from dli.domain.model.rules import rule_of
from dli.domain.model.schedule import validate_cron, validate_timezone
from dli.domain.model.spec import DatasetSpec
from dli.domain.usecases.message import Message, Route, message_types, result_type

__all__ = [
    "MAX_BODY_DEPTH",
    "SPEC_SCHEMA",
    "MalformedBodyError",
    "Operation",
    "UnsupportedMediaTypeError",
    "operation_for",
    "operations",
]

MAX_BODY_DEPTH = 64
"""Deepest JSON nesting a body may have (a spec is a few levels deep; a hostile body thousands)."""

_PATH_FIELD = re.compile(r"\{(\w+)\}")


def _register_spec_schema() -> dict[str, Any]:
    # What a spec file holds (generated from the model's rules), with the schedule a registration needs.
    schema = copy.deepcopy(spec_json_schema())
    schema["required"] = ["name", "schedule"]
    schema["properties"]["schedule"]["type"] = "object"
    schema["examples"] = [
        {
            "name": "shop.orders",
            "owner": "engineer@example.com",
            "team": "@data-engineering",
            "query_statement": "SELECT 1",
            "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Berlin", "enabled": True},
        }
    ]
    return schema


SPEC_SCHEMA: Mapping[str, Any] = _register_spec_schema()
"""JSON Schema of ``RegisterWorkflow.spec`` on the wire (the API document shows it)."""


class MalformedBodyError(ParameterInvalidError):
    """The body is not a JSON object at all (HTTP 400 rather than 422)."""

    http_status = 400


class UnsupportedMediaTypeError(ParameterInvalidError):
    """The body is not sent as JSON (HTTP 415)."""

    http_status = 415


def _check_media_type(content_type: str | None, raw: bytes) -> None:
    if not raw.strip():
        return
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"Request body must be sent as application/json, not {kind or 'without a content type'}",
            hints=("Set the header Content-Type: application/json.",),
        )


_WIRE_FORMS: Mapping[object, tuple[Any, Mapping[str, Any]]] = {DatasetSpec: (dict[str, Any], SPEC_SCHEMA)}
"""Field types whose wire form differs from the Python type: that form and its JSON Schema keywords
(for the OpenAPI document)."""


@attrs.frozen
class Operation:
    """One row of the API table: a message type served over HTTP (its ``route`` is set)."""

    message: type[Message[Any]]
    """What the request asks for."""

    @property
    def route(self) -> Route:
        """Where the message is served."""
        route = self.message.route
        if route is None:
            raise TypeError(f"{self.message.__name__} is not served over HTTP")
        return route

    @property
    def method(self) -> str:
        """HTTP method: the route's, or GET for a query and POST otherwise."""
        return self.route.method or ("GET" if self.message.query else "POST")

    @property
    def path(self) -> str:
        """Path template; ``{field}`` names a field of the message."""
        return self.route.path

    @property
    def tag(self) -> str:
        """OpenAPI tag."""
        return self.route.tag

    @property
    def created(self) -> bool:
        """Answer 201 (200 when the result says it ``updated`` something that existed)."""
        return self.route.created

    @property
    def cache_seconds(self) -> float:
        """A GET whose answer the server may reuse this long for the same query (until a write)."""
        return self.route.cache_seconds

    @property
    def wire_types(self) -> dict[str, Any]:
        """Fields whose wire form differs from their Python type (for the OpenAPI document)."""
        return {a.name: _WIRE_FORMS[a.type][0] for a in attrs.fields(self.message) if a.type in _WIRE_FORMS}

    def field_schema(self, name: str) -> dict[str, Any]:
        """JSON Schema keywords of a field's wire form: its rule's (the one its validator applies), or its wire form's."""
        attribute = attrs.fields_dict(self.message)[name]
        rule = rule_of(attribute)
        keywords = {} if rule is None else rule.json_schema()
        # The framework states a field's type and whether it may be null from the annotation.
        keywords = {k: v for k, v in keywords.items() if k != "type"}
        if isinstance(keywords.get("enum"), list):
            keywords["enum"] = [v for v in keywords["enum"] if v is not None]
        wire = _WIRE_FORMS.get(attribute.type)
        return {**keywords, **(wire[1] if wire else {})}

    @property
    def result(self) -> type:
        """What the operation returns."""
        return result_type(self.message)

    @property
    def path_fields(self) -> tuple[str, ...]:
        """Message fields carried in the path."""
        return tuple(_PATH_FIELD.findall(self.path))

    @property
    def payload_fields(self) -> tuple[attrs.Attribute[Any], ...]:
        """Message fields carried in the query (GET) or the body."""
        return tuple(a for a in attrs.fields(self.message) if a.name != "actor" and a.name not in self.path_fields)

    @property
    def has_body(self) -> bool:
        """Whether the request carries a JSON body."""
        return self.method != "GET" and bool(self.payload_fields)

    @property
    def body_required(self) -> bool:
        """Whether some body field has no default."""
        return self.has_body and any(a.default is attrs.NOTHING for a in self.payload_fields)

    def success_status(self, result: object) -> int:
        """The HTTP status of a successful answer."""
        created = self.created and not getattr(result, "updated", False) and not getattr(result, "dry_run", False)
        return 201 if created else 200

    # -- client side -----------------------------------------------------------------------------

    def encode(self, message: Message[Any]) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
        """The path, query parameters and JSON body that carry ``message``."""
        path = _PATH_FIELD.sub(lambda m: quote(str(getattr(message, m.group(1))), safe=""), self.path)
        payload = {a.name: _wire.unstructure(getattr(message, a.name)) for a in self.payload_fields}
        if self.method == "GET":
            return path, {k: _query_text(v) for k, v in payload.items() if v is not None}, None
        return path, None, payload if self.has_body else None

    # -- server side -----------------------------------------------------------------------------

    def decode(
        self,
        *,
        path: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        actor: str | None,
    ) -> Message[Any]:
        """The message a request carries, validated; DLI errors name what is wrong.

        ``query`` holds the query's (name, text) pairs as sent (GET only).
        """
        values: dict[str, Any] = dict(path)
        if self.method == "GET":
            values.update(_query_values(self, query))
            return _build(self.message, values, actor=actor)
        _check_media_type(content_type, body)
        if self.has_body:
            values.update(_body_fields(body, required=self.body_required))

        return _structure(self, values, actor=actor)


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_INTEGER = re.compile(r"-?[0-9]+")


def _present_type(kind: Any) -> Any:
    """``X`` of ``X | None``."""
    if isinstance(kind, types.UnionType) or getattr(kind, "__origin__", None) is not None:
        members = [m for m in getattr(kind, "__args__", ()) if m is not type(None)]
        if len(members) == 1:
            return members[0]
    return kind


def _query_values(op: Operation, query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The fields a query carries, each once, as the text the document describes: ``true``/``false``
    for a flag, decimal digits for a number; ``null`` is no value (leave the parameter out)."""
    fields = {a.name: _present_type(a.type) for a in op.payload_fields}
    values: dict[str, Any] = {}
    for name, text in query:
        if name in values:
            raise ParameterInvalidError(
                f"Query parameter {name} is given more than once", hints=(f"Send {name} once.",)
            )
        kind = fields[name]
        if kind is bool:
            if text not in ("true", "false"):
                raise ParameterInvalidError(f"{name} must be true or false, got {text!r}")
            values[name] = text == "true"
        elif kind is int:
            if not _INTEGER.fullmatch(text):
                raise ParameterInvalidError(f"{name} must be a whole number, got {text!r}")
            values[name] = int(text)
        else:
            values[name] = text
    return values


def _build(cls: type[Message[Any]], values: Mapping[str, Any], *, actor: str | None) -> Message[Any]:
    try:
        return cls(**values, actor=actor)
    except TypeError as exc:
        raise ParameterInvalidError(f"Invalid request: {exc}") from None


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, without recursion (a hostile body could be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _json_number(text: str) -> float | int:
    # JSON has one kind of number: 3.0 is the integer 3 (as JSON Schema reads it), not a float.
    value = float(text)
    return int(value) if value.is_integer() else value


def _body_fields(raw: bytes, *, required: bool) -> dict[str, Any]:
    if not raw.strip():
        if not required:
            return {}
        raise MalformedBodyError("Request body is empty", hints=("Send a JSON object.",))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBodyError(
            f"Request body is not valid UTF-8 (byte {exc.start})", hints=("Send a JSON object encoded as UTF-8.",)
        ) from None
    try:
        data = json.loads(text, parse_float=_json_number)
    except RecursionError:
        data = None
        depth_exceeded = True
    except ValueError as exc:
        raise MalformedBodyError(f"Request body is not valid JSON: {exc}", hints=("Send a JSON object.",)) from None
    else:
        depth_exceeded = _depth(data, MAX_BODY_DEPTH) > MAX_BODY_DEPTH
    if depth_exceeded:
        raise ParameterInvalidError(
            f"Request body is nested deeper than {MAX_BODY_DEPTH} levels",
            hints=("A dataset spec needs only a few levels.",),
            details={"max_depth": MAX_BODY_DEPTH},
        )
    if not isinstance(data, dict):
        raise ParameterInvalidError(
            f"Request body must be a JSON object, got {type(data).__name__}", hints=("Send a JSON object.",)
        )
    if "actor" in data:
        raise ParameterInvalidError(
            "Unknown body field: actor", hints=("The server records the token's user as the actor.",)
        )
    return data


# -- the wire converter ------------------------------------------------------------------------------

_wire = cattrs.Converter(forbid_extra_keys=True)


def _strict(kind: type) -> Any:
    def hook(value: Any, _type: type) -> Any:
        # JSON booleans are ints in Python: refuse them where a number or a string is meant.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


for _kind in (str, bool, int):
    _wire.register_structure_hook(_kind, _strict(_kind))


def _enum_hook(value: Any, cls: type) -> Any:
    if isinstance(value, cls):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected one of {', '.join(m.value for m in cls)}, got {type(value).__name__}")  # type: ignore[attr-defined]
    return value  # the message's converter turns it into the enum, or says which values exist


for _enum in (SourceType, WorkflowStatus, RunStatus, DependencyDirection):
    _wire.register_structure_hook(_enum, _enum_hook)
    _wire.register_unstructure_hook(_enum, lambda member: member.value)
_wire.register_structure_hook_func(lambda t: t == dict[str, Any], _strict(dict))


def _structure_spec(value: Any, _type: type) -> DatasetSpec:
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object (the dataset spec), got {type(value).__name__}")
    schedule = value.get("schedule")
    if not isinstance(schedule, dict):
        from dli.domain.model.errors import SpecInvalidError

        raise SpecInvalidError(
            "spec.schedule is required (cron, timezone, enabled, retry)",
            hints=("Register with --cron, or send the spec with its schedule: section.",),
        )
    # Cron and timezone problems keep their own code (DLI-805) rather than a generic invalid spec.
    # A schedule without a cron ('after: upstream' only) is checked as a whole by the model.
    if schedule.get("cron") is not None or "after" not in schedule:
        validate_cron(schedule.get("cron"))
    validate_timezone(schedule.get("timezone", "UTC"))
    spec = spec_from_dict(value, where="spec")
    # Whatever client sent it, a statement Airflow could not render is refused before it is stored.
    check_templates(spec, where="spec")
    return spec


_wire.register_structure_hook(DatasetSpec, _structure_spec)
_wire.register_unstructure_hook(DatasetSpec, spec_to_dict)


def _leaves(exc: BaseException) -> list[BaseException]:
    inner = getattr(exc, "exceptions", None)
    if not inner:
        return [exc]
    return [leaf for e in inner for leaf in _leaves(e)]


def _dli_error_in(exc: BaseException) -> DLIError | None:
    """The DLI error cattrs collected, when it is the only kind of problem (it keeps its own code)."""
    leaves = _leaves(exc)
    if leaves and all(isinstance(leaf, DLIError) for leaf in leaves):
        return leaves[0]  # type: ignore[return-value]
    return None


def _structure(op: Operation, values: Mapping[str, Any], *, actor: str | None) -> Message[Any]:
    try:
        message = _wire.structure({**values, "actor": None}, op.message)
    except cattrs.BaseValidationError as exc:
        dli_error = _dli_error_in(exc)
        if dli_error is not None:
            raise dli_error from None
        problems = cattrs.transform_error(exc, path="body")
        fields = ", ".join(a.name for a in op.payload_fields)
        raise ParameterInvalidError(
            "Invalid request body: " + "; ".join(problems),
            hints=(f"Fields of this request: {fields}.",),
            details={"errors": problems},
        ) from None
    return attrs.evolve(message, actor=actor)


# -- the table ---------------------------------------------------------------------------------------


_ROWS: dict[type[Message[Any]], Operation] = {}


def operation_for(message: Message[Any] | type[Message[Any]]) -> Operation:
    """The row of a message (or message type); ``TypeError`` for one not served over HTTP."""
    kind = message if isinstance(message, type) else type(message)
    row = _ROWS.get(kind)
    if row is None:
        if kind.route is None:
            raise TypeError(f"{kind.__name__} is not served over HTTP")
        attrs.resolve_types(kind)  # the wire codec and the OpenAPI document read the fields' types
        row = _ROWS[kind] = Operation(kind)
    return row


@functools.cache
def operations() -> tuple[Operation, ...]:
    """The whole table: every message type with a ``route`` (imports every use-case module)."""
    return tuple(operation_for(kind) for kind in message_types() if kind.route is not None)
