"""The dataset spec (the YAML a user writes) and the document the spec store keeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.errors import SpecInvalidError
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.schedule import ScheduleConfig

__all__ = ["PARAMETER_TYPES", "DatasetSpec", "Parameter", "SpecDocument", "Statement", "minimal_spec"]

PARAMETER_TYPES = frozenset({"string", "integer", "float", "boolean", "date"})


def _check_param_type(_i: object, _a: object, value: str) -> None:
    if value not in PARAMETER_TYPES:
        raise SpecInvalidError(
            f"Unknown parameter type {value!r}", hints=(f"Use one of: {', '.join(sorted(PARAMETER_TYPES))}.",)
        )


@attrs.frozen(kw_only=True)
class Parameter:
    """A run parameter the dataset's SQL uses as a Jinja variable."""

    name: str
    """Variable name, as used in the SQL (``{{ name }}``)."""
    type: str = attrs.field(default="string", validator=_check_param_type)
    """One of ``string``, ``integer``, ``float``, ``boolean``, ``date``."""
    required: bool = False
    """Whether a run must provide it (a parameter with a default is never missing)."""
    default: Any = None
    """Value used when a run does not provide one."""
    description: str | None = None
    """What the parameter means."""


@attrs.frozen(kw_only=True)
class Statement:
    """A pre or post statement."""

    sql: str
    """The SQL to run."""
    name: str | None = None
    """Optional label, used for the task id."""
    continue_on_error: bool = False
    """Whether the workflow goes on when this statement fails."""


def _check_query(instance: DatasetSpec, _a: object, _v: object) -> None:
    if instance.query_statement is None and instance.query_file is None:
        raise SpecInvalidError(
            f"Dataset {instance.name!r} has neither query_statement nor query_file",
            hints=("Add 'query_statement: <SQL>' or 'query_file: <path>' to the spec.",),
        )


@attrs.frozen(kw_only=True)
class DatasetSpec:
    """A dataset spec: what to compute (SQL) and, optionally, when (``schedule``).

    Fields the model does not know are kept in ``extra`` and written back unchanged.
    """

    name: str = attrs.field(converter=validate_dataset_name)
    """Fully qualified dataset name, e.g. ``iceberg.analytics.daily_clicks``."""
    owner: str | None = None
    """Owner's e-mail or handle."""
    team: str | None = None
    """Owning team."""
    description: str | None = None
    """What the dataset holds."""
    query_statement: str | None = attrs.field(default=None, validator=_check_query)
    """The main SQL, inline (filled from ``query_file`` when the spec is loaded from a project)."""
    query_file: str | None = None
    """Path of the SQL file, relative to the spec file."""
    parameters: tuple[Parameter, ...] = ()
    """Declared run parameters."""
    pre_statements: tuple[Statement, ...] = ()
    """SQL run before the query."""
    post_statements: tuple[Statement, ...] = ()
    """SQL run after the query."""
    depends_on: tuple[str, ...] = ()
    """Upstream datasets (informational)."""
    tags: tuple[str, ...] = ()
    """Free-form tags."""
    domains: tuple[str, ...] = ()
    """Business domains."""
    execution: Mapping[str, Any] = attrs.field(factory=dict)
    """Execution settings, e.g. ``conn_id`` (the Airflow connection the SQL runs on)."""
    schedule: ScheduleConfig | None = None
    """When the dataset runs; ``None`` for a dataset that is not scheduled."""
    extra: Mapping[str, Any] = attrs.field(factory=dict)
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
