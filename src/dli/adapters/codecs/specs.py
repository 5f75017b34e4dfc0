"""(De)serialization of dataset specs and stored documents: YAML <-> attrs, with cattrs.

The YAML a user writes is the source of truth for the field names; fields the model does not know
are kept (``DatasetSpec.extra``) and written back at the top level. A spec travels as YAML (files,
the store) and as JSON (the register API), so what YAML reads beyond JSON's types in the fields
dli keeps as they are (an unquoted ``2024-01-01`` is a date) is kept as JSON-ready text: dates and
datetimes as ISO 8601, binary as base64, sets as lists (``plain``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import attrs
import yaml

from dli.adapters.codecs.yaml_documents import load_yaml
from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, InvalidCronError, SpecInvalidError, describe
from dli.domain.model.near_misses import closest_key
from dli.domain.model.rules import Items, rule_of
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DEFAULT_RULES, QUERY_SOURCES, DatasetSpec, Parameter, SpecDocument, Statement

__all__ = [
    "document_from_bytes",
    "document_to_bytes",
    "load_yaml",
    "plain",
    "schedule_from_dict",
    "schedule_to_dict",
    "spec_from_dict",
    "spec_json_schema",
    "spec_to_dict",
]

_SPEC_FIELDS = {a.name for a in attrs.fields(DatasetSpec)} - {"extra"}
_REGISTRATION_KEY = "registration"
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, when PyYAML was built with it
_FIELDS_HINT = "The fields of a dataset spec and their types are listed under 'A dataset spec' in the README."
# The fields users write, per model class, for an "unknown field" hint.
_USER_FIELDS: dict[type, tuple[str, ...]] = {
    DatasetSpec: tuple(sorted(_SPEC_FIELDS)),
    Parameter: tuple(a.name for a in attrs.fields(Parameter)),
    Statement: tuple(a.name for a in attrs.fields(Statement)),
    ScheduleConfig: ("cron", "after", "timezone", "enabled", "retry"),
}


def plain(value: Any) -> Any:
    """``value`` with only JSON's types: dates and datetimes (keys too) as ISO text, ``bytes`` as
    base64 text, tuples and sets as lists; mappings become dicts. Everything else is left as it is.

    YAML reads an unquoted ``2024-01-01`` as a date and ``!!binary``/``!!set`` as bytes and sets,
    none of which JSON has: the register API would fail to send such a spec.
    """
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {plain(k) if isinstance(k, (dt.date, dt.time, bytes)) else k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


class _ShapeError(TypeError):
    """A value that is not the list or mapping a field needs."""


def _as_is(value: Any, _type: type) -> Any:
    return value


def _list_only(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _ShapeError(f"expected a list, got {describe(value)}")
        return hook(value, type_)

    return structure


def _mapping_only(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _ShapeError(f"expected a mapping, got {describe(value)}")
        return hook(value, type_)

    return structure


def warm_up() -> None:
    """Build the converter now rather than at the first decode (cattrs generates its functions then)."""
    _converter()


@functools.cache
def _converter() -> Any:
    """The cattrs converter, built on first use: MOCK-mode CLI commands often never need it."""
    import cattrs
    from cattrs.cols import homogenous_tuple_structure_factory, is_sequence
    from cattrs.gen import make_dict_structure_fn

    converter = cattrs.Converter(forbid_extra_keys=True)
    # The model checks the type and range of every value when it is built; cattrs would otherwise
    # convert first (123 -> '123', 'false' -> True) and hide the mistake.
    for primitive in (str, int, float, bool):
        converter.register_structure_hook(primitive, _as_is)
    converter.register_structure_hook_func(
        lambda type_: type_ == Mapping[str, Any], _mapping_only(lambda value, _t: dict(value))
    )
    converter.register_structure_hook_factory(
        is_sequence, lambda type_, conv: _list_only(homogenous_tuple_structure_factory(type_, conv))
    )
    statement_hook = make_dict_structure_fn(Statement, converter)

    def structure_statement(value: Any, type_: type) -> Statement:
        if isinstance(value, str):
            return Statement(sql=value)
        if isinstance(value, Mapping):
            return statement_hook(value, type_)
        raise _ShapeError(f"expected SQL text or a mapping with 'sql', got {describe(value)}")

    converter.register_structure_hook(Statement, structure_statement)
    # make_dict_structure_fn looks up the hooks of the attributes now: the outer class comes last.
    for cls in (Parameter, ScheduleConfig, DatasetSpec):
        converter.register_structure_hook(cls, _mapping_only(make_dict_structure_fn(cls, converter)))
    return converter


@attrs.frozen
class _Problem:
    path: tuple[str, ...]
    message: str
    hints: tuple[str, ...] = ()
    cron: bool = False


def _leaf(path: tuple[str, ...], exc: BaseException) -> _Problem:
    from cattrs.errors import ForbiddenExtraKeysError

    if isinstance(exc, DLIError):
        field = exc.details.get("field")
        problem = exc.details.get("problem") if field else None
        if field and problem:
            return _Problem((*path, str(field)), str(problem), exc.hints, isinstance(exc, InvalidCronError))
        return _Problem(path, exc.message, exc.hints, isinstance(exc, InvalidCronError))
    if isinstance(exc, ForbiddenExtraKeysError):
        unknown = ", ".join(sorted(map(str, exc.extra_fields)))
        known = _USER_FIELDS.get(exc.cl, ())
        meant = [f"'{k}' for '{m}'" for k in sorted(map(str, exc.extra_fields)) if (m := closest_key(k, known))]
        hints = (f"Known fields here: {', '.join(known)}.",) if known else ()
        if meant:
            hints = (f"Did you mean {', '.join(meant)}?", *hints)
        return _Problem(path, f"unknown field(s) {unknown}", hints)
    if isinstance(exc, KeyError):
        return _Problem(path, "missing required field")
    return _Problem(path, str(exc))


def _problems(exc: BaseException, path: tuple[str, ...]) -> Iterator[_Problem]:
    """Every leaf error of a cattrs error tree, with the field path that leads to it."""
    from cattrs.errors import ClassValidationError, IterableValidationError

    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            yield from _problems(sub, (*path, note.name))
        for sub in without:
            yield from _problems(sub, path)
    elif isinstance(exc, IterableValidationError):
        items, rest = exc.group_exceptions()
        for sub, item in items:
            yield from _problems(sub, (*path, f"[{item.index}]"))
        for sub in rest:
            yield from _problems(sub, path)
    else:
        yield _leaf(path, exc)


def _structure(data: Any, cls: type, path: tuple[str, ...]) -> tuple[Any, list[_Problem]]:
    """``(instance, [])``, or ``(None, problems)``."""
    import cattrs

    try:
        return _converter().structure(data, cls), []
    except cattrs.BaseValidationError as exc:
        return None, list(_problems(exc, path))
    except DLIError as exc:  # the model's own checks, run by __init__ after cattrs
        return None, [_leaf(path, exc)]


_ROOT = re.compile(r"[A-Za-z_]\w*")


def _raise(where: str, problems: list[_Problem], *, cron_code: bool = True) -> NoReturn:
    """Raise one error listing every problem: ``spec.schedule.enabled: expected bool, ...`` when
    ``where`` is a root name, ``<file>: schedule.enabled: expected bool, ...`` when it is a location."""
    rooted = bool(_ROOT.fullmatch(where))
    lines = []
    for problem in problems:
        dotted = "".join(part if part.startswith("[") else f".{part}" for part in problem.path).lstrip(".")
        if rooted:
            dotted = f"{where}.{dotted}" if dotted else where
        lines.append(f"{dotted}: {problem.message}" if dotted else problem.message)
    message = "; ".join(lines) if rooted else f"{where}: " + "; ".join(lines)
    hints = tuple(dict.fromkeys(h for p in problems for h in p.hints)) or (_FIELDS_HINT,)
    # A cron or timezone problem keeps its own code (DLI-805) when it is the only kind of problem.
    error = InvalidCronError if cron_code and all(p.cron for p in problems) else SpecInvalidError
    raise error(message, hints=hints, details={"problems": lines})


def _schedule(data: Any, path: tuple[str, ...]) -> tuple[ScheduleConfig | None, list[_Problem]]:
    if not isinstance(data, Mapping):
        return None, [_Problem(path, f"expected a mapping, got {describe(data)}")]
    flat = {k: v for k, v in data.items() if k != "retry"}
    retry = data.get("retry")
    retry = {} if retry is None else retry
    if not isinstance(retry, Mapping):
        return None, [_Problem((*path, "retry"), f"expected a mapping, got {describe(retry)}")]
    unknown = set(retry) - {"max_attempts", "delay_seconds"}
    if unknown:
        return None, [
            _Problem(
                (*path, "retry"),
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))}",
                ("Known fields here: max_attempts, delay_seconds.",),
            )
        ]
    for key, target in (("max_attempts", "retry_max_attempts"), ("delay_seconds", "retry_delay_seconds")):
        if key in retry:
            flat[target] = retry[key]
    return _structure(flat, ScheduleConfig, path)


def schedule_from_dict(data: Any, *, where: str = "schedule") -> ScheduleConfig:
    """Read a ``schedule:`` section (``retry: {max_attempts, delay_seconds}`` or flat keys).

    Raises:
        InvalidCronError: The cron expression or the timezone is invalid (DLI-805).
        SpecInvalidError: Any other problem, naming the field (DLI-203).
    """
    schedule, problems = _schedule(data, ())
    if schedule is None:
        _raise(where, problems)
    return schedule


def schedule_to_dict(schedule: ScheduleConfig) -> dict[str, Any]:
    """The ``schedule:`` section as users write it (``cron`` and ``after`` only when set)."""
    out: dict[str, Any] = {}
    if schedule.cron is not None:
        out["cron"] = schedule.cron
    if schedule.after is not None:
        out["after"] = schedule.after
    return {
        **out,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "retry": {"max_attempts": schedule.retry_max_attempts, "delay_seconds": schedule.retry_delay_seconds},
    }


def _spec(data: Any) -> tuple[DatasetSpec | None, list[_Problem]]:
    if not isinstance(data, Mapping):
        return None, [_Problem((), f"expected a mapping at the top level, got {describe(data)}")]
    odd_keys = [k for k in data if not isinstance(k, str)]
    if odd_keys:
        return None, [_Problem((), f"field names must be text, got {describe(odd_keys[0])}")]
    if "name" not in data:
        return None, [_Problem(("name",), "missing required field", ("Add 'name: <catalog.schema.table>'.",))]
    known = {k: v for k, v in data.items() if k in _SPEC_FIELDS}
    # What dli keeps without reading it holds JSON's types only, whatever the source (see ``plain``).
    extra = {k: plain(v) for k, v in data.items() if k not in _SPEC_FIELDS}
    if isinstance(known.get("execution"), Mapping):
        known["execution"] = plain(known["execution"])
    schedule_data = known.pop("schedule", None)
    # An empty YAML key ('tags:') means "none", as leaving the key out does.
    for key in ("parameters", "pre_statements", "post_statements", "depends_on", "tags", "domains", "execution"):
        if known.get(key) is None:
            known.pop(key, None)
    spec, problems = _structure(known, DatasetSpec, ())
    schedule = None
    if schedule_data is not None:
        schedule, schedule_problems = _schedule(schedule_data, ("schedule",))
        problems += schedule_problems
    if problems or spec is None:
        return None, problems
    return attrs.evolve(spec, schedule=schedule, extra=extra), []


def spec_from_dict(data: Any, *, where: str = "spec") -> DatasetSpec:
    """Build a DatasetSpec from a spec mapping (a spec file, an API body); unknown fields go to ``extra``.

    Every field is checked for type and range. ``where`` is how messages name the document: a root
    name (``spec`` -> ``spec.schedule.enabled: expected bool, got str 'false'``) or a location
    (a file -> ``<file>: schedule.enabled: ...``).

    Raises:
        InvalidCronError: The only problems are the cron expression or the timezone (DLI-805).
        SpecInvalidError: Every problem found, each with its field path (DLI-203).
    """
    spec, problems = _spec(data)
    if spec is None:
        _raise(where, problems)
    return spec


# -- the wire form as JSON Schema -------------------------------------------------------------------


def _set(name: str) -> dict[str, Any]:
    """``name`` is there and not null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def _fields_schema(cls: type, *, closed: bool, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The JSON Schema of a mapping read into ``cls``: each field's rule, the required ones."""
    properties: dict[str, Any] = {}
    required = []
    for attribute in attrs.fields(cls):
        if attribute.name in skip:
            continue
        rule = rule_of(attribute)
        schema = rule.json_schema() if rule is not None else {}
        if isinstance(rule, Items) and isinstance(rule.item, type):
            schema = {**schema, "items": _item_schema(rule.item)}
        properties[attribute.name] = schema
        if attribute.default is attrs.NOTHING:
            required.append(attribute.name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def _item_schema(cls: type) -> dict[str, Any]:
    if cls is Statement:  # SQL text alone, or the mapping
        sql = rule_of(attrs.fields(Statement).sql)
        assert sql is not None
        return {"anyOf": [sql.json_schema(), _fields_schema(Statement, closed=True)]}
    if cls is Parameter:
        schema = _fields_schema(Parameter, closed=True)
        schema["properties"]["default"] = {"description": "A value of the parameter's type (null: none)."}
        # The default's type follows the parameter's ('string' when it has none).
        schema["allOf"] = [
            {
                "if": {"properties": {"type": {"const": kind}}, **({} if kind == "string" else {"required": ["type"]})},
                "then": {"properties": {"default": {"anyOf": [rule.json_schema(), {"type": "null"}]}}},
            }
            for kind, rule in DEFAULT_RULES.items()
        ]
        return schema
    return _fields_schema(cls, closed=True)


def _schedule_schema() -> dict[str, Any]:
    schema = _fields_schema(ScheduleConfig, closed=True)
    fields = attrs.fields(ScheduleConfig)
    retry = {
        "max_attempts": rule_of(fields.retry_max_attempts),
        "delay_seconds": rule_of(fields.retry_delay_seconds),
    }
    schema["properties"]["retry"] = {
        "type": ["object", "null"],
        "additionalProperties": False,
        "properties": {key: rule.json_schema() for key, rule in retry.items() if rule is not None},
        "description": "How often a failed run is attempted; wins over the flat retry_* keys.",
    }
    schema["anyOf"] = [_set("cron"), _set("after")]
    schema["description"] = "When the dataset runs: a cron expression, 'after: upstream', or both."
    return schema


@functools.cache
def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec mapping as ``spec_from_dict`` reads it, generated from the model's rules.

    Fields dli does not know are free; an empty value (null) of a list or of ``execution`` means none,
    as leaving the key out does. What JSON Schema cannot state is in the descriptions: statements
    must be Jinja templates that parse, parameter names unique, the cron must fire.
    """
    schema = _fields_schema(DatasetSpec, closed=False, skip=frozenset({"extra"}))
    properties = schema["properties"]
    for name in ("parameters", "pre_statements", "post_statements", "depends_on", "tags", "domains", "execution"):
        properties[name] = _nullable(properties[name])
    properties["schedule"] = {**_schedule_schema(), "type": ["object", "null"]}
    schema["anyOf"] = [_set(name) for name in QUERY_SOURCES]
    schema["description"] = (
        "The dataset spec as a spec file holds it (dataset.<name>.yaml). Fields dli does not know are kept; "
        "every known one is checked for its type and range (README, 'A dataset spec'). Every statement must "
        "parse as a Jinja template and parameter names must be unique."
    )
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _statement_to_dict(statement: Statement) -> Any:
    if statement.name is None and not statement.continue_on_error:
        return statement.sql
    return {k: v for k, v in attrs.asdict(statement).items() if v is not None}


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The spec as a YAML- and JSON-ready mapping (unknown fields back at the top level, as ``plain``
    values: a date is ISO text)."""
    out: dict[str, Any] = {"name": spec.name}
    for key in ("owner", "team", "description", "query_statement", "query_file"):
        value = getattr(spec, key)
        if value is not None:
            out[key] = value
    if spec.parameters:
        out["parameters"] = [
            {k: v for k, v in attrs.asdict(p).items() if v is not None and not (k == "required" and v is False)}
            for p in spec.parameters
        ]
    for key in ("pre_statements", "post_statements"):
        statements = getattr(spec, key)
        if statements:
            out[key] = [_statement_to_dict(s) for s in statements]
    for key in ("depends_on", "tags", "domains"):
        values = getattr(spec, key)
        if values:
            out[key] = list(values)
    if spec.execution:
        out["execution"] = plain(spec.execution)
    for key, value in spec.extra.items():
        out.setdefault(key, plain(value))
    if spec.schedule is not None:
        out["schedule"] = schedule_to_dict(spec.schedule)
    return out


def document_to_bytes(document: SpecDocument) -> bytes:
    """Serialize a stored document (the spec plus a ``registration:`` section) to YAML bytes."""
    data = spec_to_dict(document.spec)
    data.pop(_REGISTRATION_KEY, None)
    data[_REGISTRATION_KEY] = {
        "source_type": document.source_type.value,
        "registered_by": document.registered_by,
        "registered_at": document.registered_at.isoformat() if document.registered_at else None,
    }
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True).encode()


def document_from_bytes(raw: bytes, *, where: str, source: SourceType | None = None) -> SpecDocument:
    """Parse a stored document; a CI-written code spec may lack ``registration:``."""
    data = load_yaml(raw, where=where)
    if not isinstance(data, Mapping):
        raise SpecInvalidError(f"{where}: expected a mapping at the top level, got {describe(data)}")
    data = dict(data)
    registration = data.pop(_REGISTRATION_KEY, None) or {}
    if not isinstance(registration, Mapping):
        raise SpecInvalidError(f"{where}: {_REGISTRATION_KEY}: expected a mapping, got {describe(registration)}")
    spec, problems = _spec(data)
    if spec is None:
        # A stored document that cannot be read is an invalid document, whatever the field.
        _raise(where, problems, cron_code=False)
    if spec.schedule is None:
        raise SpecInvalidError(f"{where}: stored spec has no 'schedule' section")
    try:
        source_type = SourceType(registration.get("source_type") or (source.value if source else "manual"))
    except ValueError:
        raise SpecInvalidError(f"{where}: unknown source_type {registration.get('source_type')!r}") from None
    if source is not None:
        source_type = source  # the key prefix is authoritative
    registered_by = registration.get("registered_by")
    if registered_by is not None and not isinstance(registered_by, str):
        raise SpecInvalidError(
            f"{where}: {_REGISTRATION_KEY}.registered_by: expected str, got {describe(registered_by)}"
        )
    registered_at = registration.get("registered_at")
    if isinstance(registered_at, str):
        try:
            registered_at = dt.datetime.fromisoformat(registered_at)
        except ValueError:
            raise SpecInvalidError(f"{where}: invalid registered_at {registered_at!r}") from None
    return SpecDocument(
        spec=spec,
        source_type=source_type,
        registered_by=registered_by,
        registered_at=registered_at if isinstance(registered_at, dt.datetime) else None,
    )
