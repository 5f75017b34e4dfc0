"""Workflows and runs as users see them, and the result models of the WorkflowAPI methods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import ResultStatus, RunStatus, RunType, ScheduleTrigger, SourceType, WorkflowStatus

__all__ = [
    "BrokenSpec",
    "DagState",
    "DatasetInfo",
    "RunLogs",
    "WorkflowHistoryResult",
    "WorkflowInfo",
    "WorkflowListResult",
    "WorkflowRegisterResult",
    "WorkflowRun",
    "WorkflowRunResult",
    "WorkflowStatusResult",
]


class _RunTiming:
    """Shared properties of anything with a run status and start/finish times."""

    run_status: RunStatus
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def is_running(self) -> bool:
        """Whether the run is pending or running."""
        return self.run_status in (RunStatus.PENDING, RunStatus.RUNNING)

    @property
    def is_terminal(self) -> bool:
        """Whether the run has finished (completed, failed or killed)."""
        return self.run_status.is_terminal

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@attrs.frozen(kw_only=True)
class WorkflowInfo:
    """A registered workflow: one dataset on a schedule."""

    dataset_name: str
    """The dataset (and DAG) name."""
    source_type: SourceType
    """``manual`` or ``code``."""
    status: WorkflowStatus
    """``active``, ``paused`` or ``overridden``."""
    cron: str | None
    """Cron expression; ``None`` when only upstream data starts runs (``after: upstream``)."""
    timezone: str = "UTC"
    """IANA timezone of the cron expression."""
    next_run: dt.datetime | None = None
    """Next fire time in the workflow's timezone; ``None`` when paused or overridden."""
    overridden_by: SourceType | None = None
    """``code`` when this manual workflow is overridden."""
    enabled: bool = True
    """The spec's ``schedule.enabled``."""
    retry_max_attempts: int = 1
    """Attempts per run."""
    retry_delay_seconds: int = 300
    """Delay between attempts."""
    owner: str | None = None
    """Dataset owner."""
    team: str | None = None
    """Owning team."""
    description: str | None = None
    """Dataset description."""
    registered_by: str | None = None
    """Who registered (or published) it."""
    registered_at: dt.datetime | None = None
    """When it was registered or published."""
    running: bool | None = False
    """Whether a run of it is pending or running; ``None`` when the orchestrator could not be asked."""
    trigger: ScheduleTrigger = ScheduleTrigger.CRON
    """What starts its scheduled runs: ``cron``, ``upstream`` (new data in its upstream datasets) or ``both``."""
    status_known: bool = True
    """``False`` when the orchestrator could not be asked (a listing while Airflow is down): ``status``
    then follows the spec's ``enabled`` and ``running`` is ``None``."""


@attrs.frozen(kw_only=True)
class BrokenSpec:
    """A stored document that cannot be read: listed by name so that it is fixed, never hiding the others."""

    dataset_name: str
    """The name its key gives (``<source>/<name>.yaml``)."""
    source_type: SourceType
    """The folder it is in."""
    key: str
    """Its key in the store, ``<source>/<name>.yaml``."""
    reason: str
    """Why it cannot be read (the DLI error's message)."""
    code: str = "DLI-203"
    """The DLI code of that error."""


@attrs.frozen(kw_only=True)
class WorkflowRun(_RunTiming):
    """One run of a workflow."""

    run_id: str
    """Run id, unique across workflows (``<dataset>@<orchestrator run id>``)."""
    dataset_name: str
    """The dataset."""
    source_type: SourceType
    """Source of the spec the run belongs to."""
    status: RunStatus
    """Run status."""
    run_type: RunType
    """``adhoc``, ``scheduled`` or ``backfill``."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """Parameters the run was given."""
    logical_date: dt.datetime | None = None
    """The data interval / execution date the run is for."""
    started_at: dt.datetime | None = None
    """When it started running."""
    finished_at: dt.datetime | None = None
    """When it finished."""
    error_message: str | None = None
    """Why it failed."""
    triggered_by: str | None = None
    """User that triggered it (adhoc and backfill runs)."""

    @property
    def run_status(self) -> RunStatus:
        """Alias of ``status`` (for the shared timing properties)."""
        return self.status


@attrs.frozen(kw_only=True)
class WorkflowRegisterResult:
    """Result of ``register``."""

    dataset_name: str
    """Registered dataset."""
    status: ResultStatus
    """Outcome."""
    source_type: SourceType = SourceType.MANUAL
    """Always ``manual``: only manual workflows are registered through the API."""
    workflow_info: WorkflowInfo | None = None
    """The workflow as registered."""
    message: str | None = None
    """Human-readable summary."""
    warning: str | None = None
    """Warning, e.g. when the workflow is registered but overridden."""
    updated: bool = False
    """``True`` when an existing manual workflow was replaced (``force``)."""
    previous_cron: str | None = None
    """The cron expression before a forced update."""


@attrs.frozen(kw_only=True)
class WorkflowRunResult:
    """Result of run, backfill, stop, pause, unpause and unregister."""

    dataset_name: str
    """The dataset."""
    status: ResultStatus
    """Outcome."""
    run_id: str | None = None
    """The run (for a backfill: the first date's run)."""
    run_status: RunStatus | None = None
    """Status of that run."""
    dry_run: bool = False
    """Whether nothing was executed."""
    message: str | None = None
    """Human-readable summary."""
    run_ids: tuple[str, ...] = ()
    """Backfill: one run per date, in date order."""
    dates: tuple[str, ...] = ()
    """Backfill: the dates (YYYY-MM-DD), in order; with downstream datasets, the date of each run."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """The validated, type-coerced parameters."""
    warnings: tuple[str, ...] = ()
    """What the user should know although it succeeded (e.g. parameters the spec does not declare)."""
    datasets: tuple[str, ...] = ()
    """Backfill with downstream datasets: the dataset of each run, in the order they run (``dates`` and
    ``run_ids`` are parallel to it)."""


@attrs.frozen(kw_only=True)
class WorkflowListResult:
    """Result of ``list_workflows``."""

    workflows: tuple[WorkflowInfo, ...] = ()
    """Workflows, sorted by name (code before manual)."""
    total_count: int = 0
    """How many matched in all, on every page."""
    status: ResultStatus = ResultStatus.SUCCESS
    """Outcome."""
    next_cursor: str | None = None
    """Pass it as ``after`` to get the next page; ``None`` on the last page."""
    broken: tuple[BrokenSpec, ...] = ()
    """Stored documents matching the name and source filters that cannot be read (at most 100)."""
    broken_count: int = 0
    """How many such documents there are in all."""
    warnings: tuple[str, ...] = ()
    """What the user should know about this answer (e.g. the orchestrator could not be asked)."""


@attrs.frozen(kw_only=True)
class WorkflowStatusResult(_RunTiming):
    """Detailed status of one run."""

    run_id: str
    """Run id."""
    dataset_name: str
    """The dataset."""
    source_type: SourceType
    """Source of the workflow."""
    run_status: RunStatus
    """Current status."""
    run_type: RunType
    """``adhoc``, ``scheduled`` or ``backfill``."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """Parameters of the run."""
    logical_date: dt.datetime | None = None
    """The date the run is for."""
    started_at: dt.datetime | None = None
    """Start time."""
    finished_at: dt.datetime | None = None
    """Finish time."""
    error_message: str | None = None
    """Error, if it failed."""
    triggered_by: str | None = None
    """Who triggered it."""


@attrs.frozen(kw_only=True)
class DatasetInfo:
    """Dataset metadata shown with history."""

    name: str
    """Dataset name."""
    owner: str | None = None
    """Owner."""
    team: str | None = None
    """Team."""
    description: str | None = None
    """Description."""
    source_type: SourceType | None = None
    """Source of the active workflow."""


@attrs.frozen(kw_only=True)
class WorkflowHistoryResult:
    """Result of ``history``."""

    runs: tuple[WorkflowRun, ...] = ()
    """Runs, newest first."""
    total_count: int = 0
    """How many runs matched (may exceed ``len(runs)``)."""
    status: ResultStatus = ResultStatus.SUCCESS
    """Outcome."""
    dataset_info: DatasetInfo | None = None
    """Dataset metadata, when asked for and a single dataset was named."""


@attrs.frozen(kw_only=True)
class RunLogs:
    """Task logs of a run."""

    run_id: str
    """The run."""
    text: str
    """The logs, task by task."""


@attrs.frozen(kw_only=True)
class DagState:
    """Whether the orchestrator has picked up a workflow's stored spec."""

    visible: bool
    """The workflow exists in the orchestrator (for Airflow: its DAG was parsed)."""
    error: str | None = None
    """Why it cannot run: the spec's or the DAG file's import error."""
