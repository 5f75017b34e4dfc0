"""The operations of dli, one frozen message each: what a user (or CI) asks for.

A message is validated when it is built (names, enums, limits, run ids), whatever builds it: the
``WorkflowAPI`` facade, the Basecamp server from a request, or a test. Handlers therefore trust the
message they get. Every message carries its ``actor``, the user it runs for; the server sets it
from the caller's token, so a client cannot act for somebody else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import DependencyDirection, RunStatus, SourceType, WorkflowStatus
from dli.domain.model.errors import ParameterInvalidError, SpecInvalidError
from dli.domain.model.names import DATASET_NAME_PATTERN, MAX_NAME_LENGTH, validate_dataset_name
from dli.domain.model.runs import MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, split_run_id
from dli.domain.model.spec import DatasetSpec

__all__ = [
    "MAX_DEPENDENCY_DEPTH",
    "GetDagState",
    "GetDependencies",
    "GetHistory",
    "GetRunLogs",
    "GetRunStatus",
    "GetWorkflow",
    "ListWorkflows",
    "Message",
    "PauseWorkflow",
    "PublishSpecs",
    "RegisterWorkflow",
    "SCHEMA",
    "StopRun",
    "TriggerBackfill",
    "TriggerRun",
    "UnpauseWorkflow",
    "UnregisterWorkflow",
]

MAX_LIMIT = 10_000
MAX_PAGE = 1_000
"""Most workflows one ``ListWorkflows`` answers: a longer listing follows ``next_cursor`` page by page."""

MAX_DEPENDENCY_DEPTH = 1_000

SCHEMA = "json_schema"
"""Key of a field's attrs ``metadata``: what its validator accepts, as JSON Schema keywords.

The validators enforce; these facts only describe them, so that the API document generated from
the messages (``dli.entrypoints.server.routes``) tells clients which requests are valid.
"""


def _schema(**keywords: Any) -> dict[str, Any]:
    return {SCHEMA: keywords}


_NAME_SCHEMA = _schema(
    pattern=DATASET_NAME_PATTERN, minLength=1, maxLength=MAX_NAME_LENGTH, examples=["shop.orders"]
)
_RUN_ID_SCHEMA = _schema(
    pattern=RUN_ID_PATTERN, maxLength=MAX_RUN_ID_LENGTH, examples=["shop.orders@scheduled__2025-01-01T06:00:00+00:00"]
)
_LIMIT_SCHEMA = _schema(minimum=1, maximum=MAX_LIMIT)
_DATE_SCHEMA = _schema(format="date", pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2025-01-01"])


def _dataset_name(_instance: object, _attribute: object, value: object) -> None:
    validate_dataset_name(value)


def _optional_dataset_name(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        validate_dataset_name(value)


def _run_id(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, str):
        raise ParameterInvalidError(f"Run id must be a string, got {type(value).__name__}")
    split_run_id(value)


def _limit(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ParameterInvalidError(
            f"{attribute.name} must be between 1 and {MAX_LIMIT}, got {value!r}",
            hints=(f"Pass a whole number from 1 to {MAX_LIMIT}.",),
        )


def _depth(_instance: object, _attribute: object, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEPENDENCY_DEPTH:
        raise ParameterInvalidError(
            f"depth must be between 1 and {MAX_DEPENDENCY_DEPTH}, got {value!r}",
            hints=("Pass --depth N (1 = direct dependencies only), or leave it out for all of them.",),
        )


def _page_size(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE:
        raise ParameterInvalidError(
            f"{attribute.name} must be between 1 and {MAX_PAGE}, got {value!r}",
            hints=(f"Pass a whole number from 1 to {MAX_PAGE}; follow next_cursor for more.",),
        )


def _cursor(_instance: object, _attribute: object, value: object) -> None:
    if value is not None:
        from dli.domain.model.catalog import cursor_key  # only a second page needs it (start-up time)

        cursor_key(value)  # type: ignore[arg-type]


def _flag(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, bool):
        raise ParameterInvalidError(f"{attribute.name} must be true or false, got {value!r}")


def _enum(cls: type, what: str, *, upper: bool = False) -> Any:
    """A converter to ``cls`` from its value; DLI-204 listing the allowed values otherwise."""

    def convert(value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if upper and isinstance(value, str):
            value = value.upper()
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)  # type: ignore[attr-defined]
            raise ParameterInvalidError(f"Invalid {what}: {value!r}", hints=(f"Use one of: {allowed}.",)) from None

    return convert


def _parameters(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ParameterInvalidError(
            "Parameters must be a mapping of names to values", hints=("Pass -p name=value.",)
        )
    return dict(value)


def _date_text(_instance: object, attribute: attrs.Attribute, value: object) -> None:  # type: ignore[type-arg]
    if not isinstance(value, str):
        raise ParameterInvalidError(f"{attribute.name} must be a YYYY-MM-DD string, got {type(value).__name__}")


_message = attrs.frozen(kw_only=True, repr=False)


@attrs.frozen(kw_only=True, repr=False)
class Message:
    """What every operation carries."""

    actor: str | None = attrs.field(default=None)
    """Who asks (``registered_by``, ``triggered_by``); the bus or the server fills it in."""

    def __repr__(self) -> str:
        # Written once here rather than generated per message class: start-up time (16 classes).
        fields = ", ".join(f"{a.name}={getattr(self, a.name)!r}" for a in attrs.fields(type(self)))
        return f"{type(self).__name__}({fields})"


# -- workflows -------------------------------------------------------------------------------------


@_message
class GetWorkflow(Message):
    """The active workflow of a dataset (CODE over MANUAL); DLI-800 when there is none."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""


@_message
class GetDagState(Message):
    """Whether the orchestrator runs the workflow yet (its DAG is parsed), or its import error."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""


def _scheduled(_instance: object, _attribute: object, spec: object) -> None:
    if not isinstance(spec, DatasetSpec):
        raise SpecInvalidError("spec must be a dataset spec")
    if spec.schedule is None:
        raise SpecInvalidError(
            f"Dataset '{spec.name}' has no schedule",
            hints=("Pass --cron (and --timezone), or add a schedule: section to the spec.",),
        )


@_message
class RegisterWorkflow(Message):
    """Store a spec with its schedule under manual/ and make the orchestrator schedule it."""

    spec: DatasetSpec = attrs.field(validator=_scheduled)
    """The dataset spec, its ``schedule`` set."""
    force: bool = attrs.field(default=False, validator=_flag)
    """Replace an existing MANUAL registration."""


@_message
class UnregisterWorkflow(Message):
    """Delete a MANUAL workflow (a CODE one goes through Git: DLI-803)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""


@_message
class PauseWorkflow(Message):
    """Pause the schedule of the active workflow (CODE workflows too)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """The workflow meant when code overrides manual (``manual`` for an overridden one is DLI-806)."""


@_message
class UnpauseWorkflow(Message):
    """Resume the schedule (DLI-806 when the manual workflow meant is overridden)."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """The workflow meant when code overrides manual."""


@_message
class ListWorkflows(Message):
    """Workflows matching the filters, sorted by name (an overridden MANUAL one is listed too)."""

    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only this source."""
    status: WorkflowStatus | None = attrs.field(default=None, converter=_enum(WorkflowStatus, "workflow status"))
    """Only this status."""
    dataset_filter: str | None = attrs.field(default=None, converter=lambda v: v or None)
    """Substring (or glob with ``*``) the dataset name must match."""
    running_only: bool = attrs.field(default=False, validator=_flag)
    """Only workflows with a pending or running run."""
    enabled_only: bool = attrs.field(default=False, validator=_flag)
    """Only active workflows (not paused, not overridden)."""
    limit: int = attrs.field(default=100, validator=_page_size, metadata=_schema(minimum=1, maximum=MAX_PAGE))
    """At most this many (one page, up to ``MAX_PAGE``)."""
    after: str | None = attrs.field(default=None, converter=lambda v: v or None, validator=_cursor)
    """Start after this row: the ``next_cursor`` of the previous page."""


@_message
class GetDependencies(Message):
    """The upstream and/or downstream datasets of a workflow (its active spec's ``depends_on`` and theirs)."""

    dataset_name: str = attrs.field(validator=_dataset_name)
    """The dataset."""
    direction: DependencyDirection = attrs.field(
        default=DependencyDirection.BOTH,
        converter=lambda v: _enum(DependencyDirection, "direction")(DependencyDirection.BOTH if v is None else v),
    )
    """``upstream``, ``downstream`` or ``both``."""
    depth: int | None = attrs.field(default=None, validator=_depth)
    """At most this many steps away (``None``: all)."""


# -- runs ------------------------------------------------------------------------------------------


@_message
class TriggerRun(Message):
    """Start an adhoc run; ``dry_run`` only validates the parameters."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters (checked against the spec's declared parameters)."""
    dry_run: bool = attrs.field(default=False, validator=_flag)
    """Only validate."""


@_message
class TriggerBackfill(Message):
    """Run each date of a range in order, stopping after the first failure."""

    dataset_name: str = attrs.field(validator=_dataset_name, metadata=_NAME_SCHEMA)
    """The dataset."""
    start_date: str = attrs.field(validator=_date_text, metadata=_DATE_SCHEMA)
    """First date, YYYY-MM-DD."""
    end_date: str = attrs.field(validator=_date_text, metadata=_DATE_SCHEMA)
    """Last date, YYYY-MM-DD (inclusive)."""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_parameters)
    """Run parameters for every date (of this dataset; its downstreams run with their defaults)."""
    dry_run: bool = attrs.field(default=False, validator=_flag)
    """Only list the dates."""
    with_downstream: bool = attrs.field(default=False, validator=_flag)
    """Also run every managed dataset downstream of it, date by date in dependency order."""


@_message
class StopRun(Message):
    """Kill a pending or running run (DLI-807 when it already finished)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id (``<dataset>@<run>``)."""


@_message
class GetRunStatus(Message):
    """The status of one run (DLI-800 when unknown)."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id."""


@_message
class GetRunLogs(Message):
    """The task logs of one run."""

    run_id: str = attrs.field(validator=_run_id, metadata=_RUN_ID_SCHEMA)
    """Public run id."""


@_message
class GetHistory(Message):
    """Runs, newest first, with the dataset's metadata when one dataset is named."""

    dataset_name: str | None = attrs.field(default=None, validator=_optional_dataset_name, metadata=_NAME_SCHEMA)
    """Only this dataset."""
    source_type: SourceType | None = attrs.field(default=None, converter=_enum(SourceType, "source type"))
    """Only runs of workflows of this source."""
    run_status: RunStatus | None = attrs.field(default=None, converter=_enum(RunStatus, "run status", upper=True))
    """Only runs in this status."""
    limit: int = attrs.field(default=20, validator=_limit, metadata=_LIMIT_SCHEMA)
    """At most this many runs."""
    include_dataset_info: bool = attrs.field(default=True, validator=_flag)
    """Add the dataset's owner, team and description (when one dataset is named)."""


# -- the code path ---------------------------------------------------------------------------------


@_message
class PublishSpecs(Message):
    """Publish the project's scheduled specs to the store's ``code/`` (what CI/CD runs)."""

    prune: bool = attrs.field(default=False, validator=_flag)
    """Delete code specs whose dataset left the project."""
    dry_run: bool = attrs.field(default=False, validator=_flag)
    """Only plan."""
