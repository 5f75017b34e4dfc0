"""The dataset spec (the YAML a user writes) and the document the spec store keeps."""

from __future__ import annotations

import datetime as dt
import keyword
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError, describe, field_error
from dli.domain.model.names import DATASET_NAME, validate_dataset_name
from dli.domain.model.rules import RULE, Choice, Date, Flag, Items, Keys, Matching, Number, Rule, Text, Whole, checked
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

# Parameters become Jinja variables ({% set <name> = ... %}): an identifier that is neither a
# keyword nor a name the DAG's template needs for itself.
_RESERVED_PARAMETER_NAMES = frozenset({"true", "false", "none", "params", "dag_run", "loop", "self"})


def _shown(value: object) -> str:
    return repr(value if not isinstance(value, str) or len(value) <= 70 else value[:67] + "...")


PARAMETER_NAME = Matching(
    pattern=r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    what="an identifier",
    reserved=_RESERVED_PARAMETER_NAMES,
    reserved_exact=frozenset(keyword.kwlist),
    message=lambda value: (
        f"invalid parameter name {_shown(value)}" if isinstance(value, str) else f"expected str, got {describe(value)}"
    ),
    hints=(
        "A parameter name is used as a SQL template variable: letters, digits and '_', starting with a "
        "letter or '_', at most 64 characters, not a keyword or one of: "
        + ", ".join(sorted(_RESERVED_PARAMETER_NAMES))
        + ".",
    ),
    description="Variable name, as used in the SQL (``{{ name }}``); unique within the spec.",
)
PARAMETER_TYPE = Choice(
    values=tuple(sorted(PARAMETER_TYPES)),
    message=lambda value: f"unknown parameter type {describe(value) if not isinstance(value, str) else repr(value)}",
    hints=(f"Use one of: {', '.join(sorted(PARAMETER_TYPES))}.",),
)
DEFAULT_RULES: Mapping[str, Rule] = {
    "string": Text(),
    "integer": Number(integer=True),
    "float": Number(),
    "boolean": Flag(),
    "date": Date(),
}
"""What the ``default`` of a parameter of each type must be."""
_DEFAULT_EXAMPLES = {
    "string": ("a str", "'eu' (quoted when it looks like a number)"),
    "integer": ("an int", "10"),
    "float": ("a finite number", "0.5"),
    "boolean": ("a bool", "true"),
    "date": ("a YYYY-MM-DD date", "2025-01-31"),
}


def _date_as_text(kind: str, value: object) -> object:
    # YAML reads an unquoted 2025-01-31 as a date; JSON has none: keep one form, the text.
    if kind == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _check_default(instance: Parameter, _attribute: object, value: object) -> None:
    value = _date_as_text(instance.type, value)
    if value is not None and DEFAULT_RULES[instance.type].problem(value) is not None:
        noun, example = _DEFAULT_EXAMPLES[instance.type]
        raise field_error(
            "default",
            f"expected {noun} for a parameter of type {instance.type}, got {describe(value)}",
            hints=(f"For example: default: {example}.",),
        )


@attrs.frozen(kw_only=True)
class Parameter:
    """A run parameter the dataset's SQL uses as a Jinja variable."""

    name: str = checked(PARAMETER_NAME)
    """Variable name, as used in the SQL (``{{ name }}``): an identifier."""
    type: str = checked(PARAMETER_TYPE, default="string")
    """One of ``string``, ``integer``, ``float``, ``boolean``, ``date``."""
    required: bool = checked(Flag(), default=False)
    """Whether a run must provide it (a parameter with a default is never missing)."""
    default: Any = attrs.field(default=None, validator=_check_default)
    """Value used when a run does not provide one, of the parameter's type (a date as ``YYYY-MM-DD``)."""
    description: str | None = checked(Text(nullable=True), default=None)
    """What the parameter means."""

    def __attrs_post_init__(self) -> None:
        # The one form of a date default is its text (validated above in that form).
        object.__setattr__(self, "default", _date_as_text(self.type, self.default))


@attrs.frozen(kw_only=True)
class Statement:
    """A pre or post statement."""

    sql: str = checked(Text(non_empty=True))
    """The SQL to run."""
    name: str | None = checked(Text(nullable=True), default=None)
    """Optional label, used for the task id."""
    continue_on_error: bool = checked(Flag(), default=False)
    """Whether the workflow goes on when this statement fails."""


def _dataset_name(value: object) -> str:
    try:
        return validate_dataset_name(value)
    except SpecInvalidError as exc:
        raise field_error("name", exc.message[0].lower() + exc.message[1:], hints=exc.hints) from None


QUERY_SOURCES = ("query_statement", "query_file")
"""A spec names its main SQL in one of these (or both)."""


def _check_query(instance: DatasetSpec, _attribute: object, _value: object) -> None:
    if instance.query_statement is None and instance.query_file is None:
        raise SpecInvalidError(
            f"Dataset {instance.name!r} has neither query_statement nor query_file",
            hints=("Add 'query_statement: <SQL>' or 'query_file: <path>' to the spec.",),
        )


def _unique_names(_instance: object, _attribute: object, value: Any) -> None:
    seen: set[str] = set()
    for index, parameter in enumerate(value):
        if parameter.name in seen:
            raise field_error(f"parameters[{index}].name", f"parameter {parameter.name!r} is declared twice")
        seen.add(parameter.name)


EXECUTION_RULE = Keys(
    known={
        **{key: Whole(low=low, high=high, hints=_EXECUTION_HINTS) for key, (low, high) in EXECUTION_LIMITS.items()},
        "dialect": Matching(
            pattern=r"[A-Za-z][A-Za-z0-9_]*", what="a name such as 'trino' or 'sqlite'", hints=_EXECUTION_HINTS
        ),
        "conn_id": Matching(pattern=r"[\w#!()\-.:/\\]{1,250}", what="an Airflow connection id", hints=_EXECUTION_HINTS),
    },
    hints=_EXECUTION_HINTS,
    description="How every SQL task runs; keys other than these are kept as they are.",
)
"""The ``execution`` block: its known keys' types and ranges; other keys are free."""
EXECUTION_KEYS = frozenset(EXECUTION_RULE.known)
"""The keys of the ``execution`` block (and of ``dli.yaml``'s ``defaults``) dli reads."""


def check_execution(execution: object, *, field: str = "execution") -> None:
    """Check an ``execution`` block (or project defaults for it): a mapping whose known keys have the
    right type and range; other keys are free.

    Raises:
        SpecInvalidError: Naming the key, e.g. ``execution.timeout_seconds`` (DLI-203).
    """
    EXECUTION_RULE.check(field, execution)


def _check_schedule(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, ScheduleConfig):
        raise field_error(attribute.name, f"expected a schedule, got {describe(value)}")


_TEXTS = Items(item=Text(), label="str")


@attrs.frozen(kw_only=True)
class DatasetSpec:
    """A dataset spec: what to compute (SQL) and, optionally, when (``schedule``).

    Every field is checked for type and range when the spec is built (from a file, an API body or
    a stored document alike). Fields the model does not know are kept in ``extra`` and written back
    unchanged.
    """

    name: str = attrs.field(converter=_dataset_name, metadata={RULE: DATASET_NAME})
    """Fully qualified dataset name, e.g. ``iceberg.analytics.daily_clicks``."""
    owner: str | None = checked(Text(nullable=True), default=None)
    """Owner's e-mail or handle."""
    team: str | None = checked(Text(nullable=True), default=None)
    """Owning team."""
    description: str | None = checked(Text(nullable=True), default=None)
    """What the dataset holds."""
    query_statement: str | None = checked(Text(nullable=True), default=None)
    """The main SQL, inline (filled from ``query_file`` when the spec is loaded from a project)."""
    query_file: str | None = checked(Text(nullable=True), default=None, also=_check_query)
    """Path of the SQL file, relative to the spec file."""
    parameters: tuple[Parameter, ...] = checked(
        Items(item=Parameter, label="a parameter"), default=(), also=_unique_names
    )
    """Declared run parameters, names unique."""
    pre_statements: tuple[Statement, ...] = checked(Items(item=Statement, label="a statement"), default=())
    """SQL run before the query."""
    post_statements: tuple[Statement, ...] = checked(Items(item=Statement, label="a statement"), default=())
    """SQL run after the query."""
    depends_on: tuple[str, ...] = checked(_TEXTS, default=())
    """Upstream datasets: the dependency graph (``dli workflow deps``); with ``schedule.after: upstream``
    the ones dli manages start runs. Names no store knows are external tables."""
    tags: tuple[str, ...] = checked(_TEXTS, default=())
    """Free-form tags."""
    domains: tuple[str, ...] = checked(_TEXTS, default=())
    """Business domains."""
    execution: Mapping[str, Any] = checked(EXECUTION_RULE, factory=dict)
    """Execution settings: ``conn_id`` (the Airflow connection the SQL runs on), ``dialect``,
    ``timeout_seconds``, ``retry_count``, ``retry_delay_seconds`` (see ``EXECUTION_LIMITS``); other
    keys are kept as they are."""
    schedule: ScheduleConfig | None = attrs.field(default=None, validator=_check_schedule)
    """When the dataset runs; ``None`` for a dataset that is not scheduled."""
    extra: Mapping[str, Any] = checked(Keys(known={}), factory=dict)
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
    return DatasetSpec(
        name=name,
        owner="mock@example.com",
        team="@mock",
        description="Generated by MOCK mode",
        query_statement="SELECT 1",
    )
