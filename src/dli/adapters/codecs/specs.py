"""(De)serialization of dataset specs and stored documents: YAML <-> attrs, with cattrs.

The YAML a user writes is the source of truth for the field names; fields the model does not know
are kept (``DatasetSpec.extra``) and written back at the top level.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import functools

import attrs
import yaml

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import DLIError, SpecInvalidError
from dli.domain.model.schedule import ScheduleConfig
from dli.domain.model.spec import DatasetSpec, Parameter, SpecDocument, Statement

__all__ = [
    "document_from_bytes",
    "document_to_bytes",
    "schedule_from_dict",
    "schedule_to_dict",
    "spec_from_dict",
    "spec_to_dict",
]

_SPEC_FIELDS = {a.name for a in attrs.fields(DatasetSpec)} - {"extra"}
_REGISTRATION_KEY = "registration"

# libyaml's C loader and dumper when PyYAML was built with them (the usual wheels are).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.cache
def _converter() -> Any:
    """The cattrs converter, built on first use: MOCK-mode CLI commands often never need it."""
    import cattrs

    converter = cattrs.Converter(forbid_extra_keys=True)

    def structure_statement(value: Any, _type: type) -> Statement:
        if isinstance(value, str):
            return Statement(sql=value)
        if isinstance(value, Mapping):
            return converter.structure_attrs_fromdict(dict(value), Statement)
        raise ValueError(f"expected SQL text or a mapping with 'sql', got {type(value).__name__}")

    converter.register_structure_hook(Statement, structure_statement)
    return converter


def _yaml_error(exc: yaml.YAMLError, where: str) -> SpecInvalidError:
    mark = getattr(exc, "problem_mark", None)
    at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return SpecInvalidError(f"{where}: invalid YAML{at}: {problem}")


def load_yaml(text: str | bytes, *, where: str) -> Any:
    """Parse YAML safely; DLI-203 naming ``where`` on error."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, where) from None


def _validation_error() -> type[Exception]:
    import cattrs

    return cattrs.BaseValidationError


def _structure(data: Any, cls: type, where: str) -> Any:
    try:
        return _converter().structure(data, cls)
    except DLIError as exc:
        raise SpecInvalidError(f"{where}: {exc.message}", hints=exc.hints) from None
    except _validation_error() as exc:
        import cattrs

        messages = cattrs.transform_error(exc, path=where)
        raise SpecInvalidError(f"{where}: " + "; ".join(m.removeprefix(where + " ") for m in messages)) from None
    except (TypeError, ValueError) as exc:
        raise SpecInvalidError(f"{where}: {exc}") from None


def schedule_from_dict(data: Any, *, where: str = "schedule") -> ScheduleConfig:
    """Read a ``schedule:`` section (``retry: {max_attempts, delay_seconds}`` or flat keys)."""
    if not isinstance(data, Mapping):
        raise SpecInvalidError(f"{where}: expected a mapping")
    flat = {k: v for k, v in data.items() if k != "retry"}
    retry = data.get("retry") or {}
    if not isinstance(retry, Mapping):
        raise SpecInvalidError(f"{where}.retry: expected a mapping")
    for key, target in (("max_attempts", "retry_max_attempts"), ("delay_seconds", "retry_delay_seconds")):
        if key in retry:
            flat[target] = retry[key]
    unknown = set(retry) - {"max_attempts", "delay_seconds"}
    if unknown:
        raise SpecInvalidError(f"{where}.retry: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    return _structure(flat, ScheduleConfig, where)


def schedule_to_dict(schedule: ScheduleConfig) -> dict[str, Any]:
    """The ``schedule:`` section as users write it."""
    return {
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "enabled": schedule.enabled,
        "retry": {"max_attempts": schedule.retry_max_attempts, "delay_seconds": schedule.retry_delay_seconds},
    }


def spec_from_dict(data: Any, *, where: str = "spec") -> DatasetSpec:
    """Build a DatasetSpec from the YAML mapping; unknown fields go to ``extra``."""
    if not isinstance(data, Mapping):
        raise SpecInvalidError(f"{where}: expected a mapping at the top level")
    known = {k: v for k, v in data.items() if k in _SPEC_FIELDS}
    extra = {k: v for k, v in data.items() if k not in _SPEC_FIELDS}
    if "name" not in known:
        raise SpecInvalidError(f"{where}: missing required field 'name'")
    schedule = known.pop("schedule", None)
    for key in ("parameters", "pre_statements", "post_statements", "depends_on", "tags", "domains"):
        if known.get(key) is None:
            known.pop(key, None)
    if known.get("execution") is None:
        known.pop("execution", None)
    spec: DatasetSpec = _structure(known, DatasetSpec, where)
    return attrs.evolve(
        spec,
        schedule=schedule_from_dict(schedule, where=f"{where}.schedule") if schedule is not None else None,
        extra=extra,
    )


def _statement_to_dict(statement: Statement) -> Any:
    if statement.name is None and not statement.continue_on_error:
        return statement.sql
    return {k: v for k, v in attrs.asdict(statement).items() if v is not None}


def spec_to_dict(spec: DatasetSpec) -> dict[str, Any]:
    """The spec as a YAML-ready mapping (unknown fields back at the top level)."""
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
        out["execution"] = dict(spec.execution)
    for key, value in spec.extra.items():
        out.setdefault(key, value)
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
        raise SpecInvalidError(f"{where}: expected a mapping at the top level")
    data = dict(data)
    registration = data.pop(_REGISTRATION_KEY, None) or {}
    if not isinstance(registration, Mapping):
        raise SpecInvalidError(f"{where}.{_REGISTRATION_KEY}: expected a mapping")
    spec = spec_from_dict(data, where=where)
    if spec.schedule is None:
        raise SpecInvalidError(f"{where}: stored spec has no 'schedule' section")
    try:
        source_type = SourceType(registration.get("source_type") or (source.value if source else "manual"))
    except ValueError:
        raise SpecInvalidError(f"{where}: unknown source_type {registration.get('source_type')!r}") from None
    if source is not None:
        source_type = source  # the key prefix is authoritative
    registered_at = registration.get("registered_at")
    if isinstance(registered_at, str):
        try:
            registered_at = dt.datetime.fromisoformat(registered_at)
        except ValueError:
            raise SpecInvalidError(f"{where}: invalid registered_at {registered_at!r}") from None
    return SpecDocument(
        spec=spec,
        source_type=source_type,
        registered_by=registration.get("registered_by"),
        registered_at=registered_at if isinstance(registered_at, dt.datetime) else None,
    )
