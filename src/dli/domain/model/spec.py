"""The dataset spec (the YAML a user writes) and the document the spec store keeps."""

from __future__ import annotations

import datetime as dt
import keyword
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError, describe, field_error
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import ScheduleConfig

__all__ = [
    "EXECUTION_KEYS",
    "EXECUTION_LIMITS",
    "PARAMETER_TYPES",
    "DatasetSpec",
    "Parameter",
    "SpecDocument",
    "Statement",
    "check_execution",
    "minimal_spec",
]

PARAMETER_TYPES = frozenset({"string", "integer", "float", "boolean", "date"})

EXECUTION_LIMITS: Mapping[str, tuple[int, int]] = {
    "timeout_seconds": (1, 7 * 86_400),
    "retry_count": (0, 100),
    "retry_delay_seconds": (0, 86_400),
}
"""Integer keys of the ``execution`` block and their allowed ranges (inclusive)."""
_EXECUTION_HINTS = ("e.g. execution: {timeout_seconds: 1800, retry_count: 3, retry_delay_seconds: 60, dialect: trino}",)
_EXECUTION_NAMES: Mapping[str, tuple[re.Pattern[str], str]] = {
    "dialect": (re.compile(r"[A-Za-z][A-Za-z0-9_]*"), "a name such as 'trino' or 'sqlite'"),
    "conn_id": (re.compile(r"[\w#!()\-.:/\\]{1,250}"), "an Airflow connection id"),
}
EXECUTION_KEYS = frozenset({*EXECUTION_LIMITS, *_EXECUTION_NAMES})
"""The keys of the ``execution`` block (and of ``dli.yaml``'s ``defaults``) dli reads."""

# Parameters become Jinja variables ({% set <name> = ... %}): an identifier that is neither a
# keyword nor a name the DAG's template needs for itself.
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_RESERVED_PARAMETER_NAMES = frozenset({"true", "false", "none", "params", "dag_run", "loop", "self"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _expect_text(field: str, value: object, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise field_error(field, f"expected str, got {describe(value)}")


def _optional_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _expect_text(attribute.name, value)


def _required_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    _expect_text(attribute.name, value, optional=False)
    if not str(value).strip():
        raise field_error(attribute.name, "must not be empty")


def _flag(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise field_error(attribute.name, f"expected bool, got {describe(value)}", hints=("Write true or false, unquoted.",))


def _check_param_name(_instance: object, _attribute: object, value: Any) -> None:
    if not isinstance(value, str):
        raise field_error("name", f"expected str, got {describe(value)}")
    if not _PARAMETER_NAME.fullmatch(value) or keyword.iskeyword(value) or value.lower() in _RESERVED_PARAMETER_NAMES:
        raise field_error(
            "name",
            f"invalid parameter name {value if len(value) <= 70 else value[:67] + '...'!r}",
            hints=(
                "A parameter name is used as a SQL template variable: letters, digits and '_', starting with a "
                "letter or '_', at most 64 characters, not a keyword or one of: "
                + ", ".join(sorted(_RESERVED_PARAMETER_NAMES)) + ".",
            ),
        )


def _check_param_type(_i: object, _a: object, value: Any) -> None:
    if not isinstance(value, str) or value not in PARAMETER_TYPES:
        raise field_error(
            "type",
            f"unknown parameter type {describe(value) if not isinstance(value, str) else repr(value)}",
            hints=(f"Use one of: {', '.join(sorted(PARAMETER_TYPES))}.",),
        )


_DEFAULT_EXAMPLES = {
    "string": ("a str", "'eu' (quoted when it looks like a number)"),
    "integer": ("an int", "10"),
    "float": ("a finite number", "0.5"),
    "boolean": ("a bool", "true"),
    "date": ("a YYYY-MM-DD date", "2025-01-31"),
}


def _default_fits(kind: str, value: object) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, str) and _DATE.fullmatch(value):  # date
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    return False


def _date_as_text(kind: str, value: object) -> object:
    # YAML reads an unquoted 2025-01-31 as a date; JSON has none: keep one form, the text.
    if kind == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _check_default(instance: Parameter, _attribute: object, value: object) -> None:
    value = _date_as_text(instance.type, value)
    if value is not None and not _default_fits(instance.type, value):
        noun, example = _DEFAULT_EXAMPLES[instance.type]
        raise field_error(
            "default",
            f"expected {noun} for a parameter of type {instance.type}, got {describe(value)}",
            hints=(f"For example: default: {example}.",),
        )


@attrs.frozen(kw_only=True)
class Parameter:
    """A run parameter the dataset's SQL uses as a Jinja variable."""

    name: str = attrs.field(validator=_check_param_name)
    """Variable name, as used in the SQL (``{{ name }}``): an identifier."""
    type: str = attrs.field(default="string", validator=_check_param_type)
    """One of ``string``, ``integer``, ``float``, ``boolean``, ``date``."""
    required: bool = attrs.field(default=False, validator=_flag)
    """Whether a run must provide it (a parameter with a default is never missing)."""
    default: Any = attrs.field(default=None, validator=_check_default)
    """Value used when a run does not provide one, of the parameter's type (a date as ``YYYY-MM-DD``)."""
    description: str | None = attrs.field(default=None, validator=_optional_text)
    """What the parameter means."""

    def __attrs_post_init__(self) -> None:
        # The one form of a date default is its text (validated above in that form).
        object.__setattr__(self, "default", _date_as_text(self.type, self.default))


@attrs.frozen(kw_only=True)
class Statement:
    """A pre or post statement."""

    sql: str = attrs.field(validator=_required_text)
    """The SQL to run."""
    name: str | None = attrs.field(default=None, validator=_optional_text)
    """Optional label, used for the task id."""
    continue_on_error: bool = attrs.field(default=False, validator=_flag)
    """Whether the workflow goes on when this statement fails."""


def _dataset_name(value: object) -> str:
    try:
        return validate_dataset_name(value)
    except SpecInvalidError as exc:
        raise field_error("name", exc.message[0].lower() + exc.message[1:], hints=exc.hints) from None


def _check_query(instance: DatasetSpec, attribute: attrs.Attribute[Any], value: object) -> None:
    _optional_text(instance, attribute, value)
    if instance.query_statement is None and instance.query_file is None:
        raise SpecInvalidError(
            f"Dataset {instance.name!r} has neither query_statement nor query_file",
            hints=("Add 'query_statement: <SQL>' or 'query_file: <path>' to the spec.",),
        )


def _items_of(item_type: type, label: str) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, (tuple, list)):
            raise field_error(attribute.name, f"expected a list, got {describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, item_type):
                raise field_error(f"{attribute.name}[{index}]", f"expected {label}, got {describe(item)}")

    return check


def _check_parameters(instance: DatasetSpec, attribute: attrs.Attribute[Any], value: Any) -> None:
    _items_of(Parameter, "a parameter")(instance, attribute, value)
    seen: set[str] = set()
    for index, parameter in enumerate(value):
        if parameter.name in seen:
            raise field_error(f"parameters[{index}].name", f"parameter {parameter.name!r} is declared twice")
        seen.add(parameter.name)


def check_execution(execution: object, *, field: str = "execution") -> None:
    """Check an ``execution`` block (or project defaults for it): a mapping whose known keys have the
    right type and range; other keys are free.

    Raises:
        SpecInvalidError: Naming the key, e.g. ``execution.timeout_seconds`` (DLI-203).
    """
    if not isinstance(execution, Mapping):
        raise field_error(field, f"expected a mapping, got {describe(execution)}", hints=_EXECUTION_HINTS)
    for key, value in execution.items():
        if not isinstance(key, str):
            raise field_error(field, f"keys must be text, got {describe(key)}", hints=_EXECUTION_HINTS)
        if key in EXECUTION_LIMITS:
            low, high = EXECUTION_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise field_error(
                    f"{field}.{key}", f"must be an integer from {low} to {high}, got {describe(value)}", hints=_EXECUTION_HINTS
                )
        elif key in _EXECUTION_NAMES:
            pattern, what = _EXECUTION_NAMES[key]
            if not isinstance(value, str) or not pattern.fullmatch(value):
                raise field_error(f"{field}.{key}", f"must be {what}, got {describe(value)}", hints=_EXECUTION_HINTS)


def _check_execution(_instance: object, _attribute: object, value: object) -> None:
    check_execution(value)


def _check_schedule(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, ScheduleConfig):
        raise field_error(attribute.name, f"expected a schedule, got {describe(value)}")


def _check_extra(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Mapping):
        raise field_error(attribute.name, f"expected a mapping, got {describe(value)}")


@attrs.frozen(kw_only=True)
class DatasetSpec:
    """A dataset spec: what to compute (SQL) and, optionally, when (``schedule``).

    Every field is checked for type and range when the spec is built (from a file, an API body or
    a stored document alike). Fields the model does not know are kept in ``extra`` and written back
    unchanged.
    """

    name: str = attrs.field(converter=_dataset_name)
    """Fully qualified dataset name, e.g. ``iceberg.analytics.daily_clicks``."""
    owner: str | None = attrs.field(default=None, validator=_optional_text)
    """Owner's e-mail or handle."""
    team: str | None = attrs.field(default=None, validator=_optional_text)
    """Owning team."""
    description: str | None = attrs.field(default=None, validator=_optional_text)
    """What the dataset holds."""
    query_statement: str | None = attrs.field(default=None, validator=_check_query)
    """The main SQL, inline (filled from ``query_file`` when the spec is loaded from a project)."""
    query_file: str | None = attrs.field(default=None, validator=_optional_text)
    """Path of the SQL file, relative to the spec file."""
    parameters: tuple[Parameter, ...] = attrs.field(default=(), validator=_check_parameters)
    """Declared run parameters, names unique."""
    pre_statements: tuple[Statement, ...] = attrs.field(default=(), validator=_items_of(Statement, "a statement"))
    """SQL run before the query."""
    post_statements: tuple[Statement, ...] = attrs.field(default=(), validator=_items_of(Statement, "a statement"))
    """SQL run after the query."""
    depends_on: tuple[str, ...] = attrs.field(default=(), validator=_items_of(str, "str"))
    """Upstream datasets: the dependency graph (``dli workflow deps``); with ``schedule.after: upstream``
    the ones dli manages start runs. Names no store knows are external tables."""
    tags: tuple[str, ...] = attrs.field(default=(), validator=_items_of(str, "str"))
    """Free-form tags."""
    domains: tuple[str, ...] = attrs.field(default=(), validator=_items_of(str, "str"))
    """Business domains."""
    execution: Mapping[str, Any] = attrs.field(factory=dict, validator=_check_execution)
    """Execution settings: ``conn_id`` (the Airflow connection the SQL runs on), ``dialect``,
    ``timeout_seconds``, ``retry_count``, ``retry_delay_seconds`` (see ``EXECUTION_LIMITS``); other
    keys are kept as they are."""
    schedule: ScheduleConfig | None = attrs.field(default=None, validator=_check_schedule)
    """When the dataset runs; ``None`` for a dataset that is not scheduled."""
    extra: Mapping[str, Any] = attrs.field(factory=dict, validator=_check_extra)
    """Fields of the YAML this model does not know, preserved."""

    def parameter(self, name: str) -> Parameter | None:
        """The declared parameter called ``name``, if any."""
        return next((p for p in self.parameters if p.name == name), None)


@attrs.frozen(kw_only=True)
class SpecDocument:
    """What the spec store keeps under ``<source>/<name>.yaml``: the spec and who put it there."""

    spec: DatasetSpec
    """The dataset spec, its ``schedule`` filled in."""
    source_type: SourceType
    """``manual`` (CLI/API) or ``code`` (CI/CD)."""
    registered_by: str | None = None
    """User (or pipeline) that wrote it."""
    registered_at: dt.datetime | None = None
    """When it was written (aware, UTC)."""

    @property
    def name(self) -> str:
        """The dataset name."""
        return self.spec.name

    @property
    def schedule(self) -> ScheduleConfig:
        """The schedule (a stored document always has one)."""
        if self.spec.schedule is None:  # pragma: no cover - guarded at registration and publish
            raise SpecInvalidError(f"Stored spec {self.spec.name!r} has no schedule")
        return self.spec.schedule


def minimal_spec(name: str) -> DatasetSpec:
    """A generated spec for MOCK mode, where a dataset may have no local project."""
    return DatasetSpec(name=name, owner="mock@example.com", team="@mock", description="Generated by MOCK mode",
                       query_statement="SELECT 1")
