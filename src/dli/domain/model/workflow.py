"""Workflows as users see them: a listing's rows, a registration's result, a DAG's state."""

from __future__ import annotations

import datetime as dt

import attrs

from dli.domain.model.enums import ResultStatus, RunStatus, ScheduleTrigger, SourceType, WorkflowStatus
from dli.domain.model.schedule import ScheduleConfig

__all__ = [
    "BrokenSpec",
    "DagState",
    "DatasetInfo",
    "WorkflowInfo",
    "WorkflowListResult",
    "WorkflowRegisterResult",
]


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
    last_run_status: RunStatus | None = None
    """The status of its newest run, in a listing; ``None`` when it has none, when the orchestrator
    could not be asked, and outside a listing."""


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
    """Warning, e.g. when the workflow is registered but overridden (``warnings`` joined by "; ")."""
    updated: bool = False
    """``True`` when an existing manual workflow was replaced (``force``)."""
    warnings: tuple[str, ...] = ()
    """Each warning on its own."""
    previous_cron: str | None = None
    """The cron expression before a forced update."""
    dry_run: bool = False
    """``True`` when every check passed and nothing was written (``register --dry-run``)."""
    schedule: ScheduleConfig | None = None
    """The schedule registered (or, in a dry run, that would be)."""
    upstreams: tuple[str, ...] = ()
    """The upstreams of its ``depends_on`` that dli manages (they start its runs ``after: upstream``)."""
    external_upstreams: tuple[str, ...] = ()
    """The upstreams no store knows (external tables)."""


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
class DagState:
    """Whether the orchestrator has picked up a workflow's stored spec."""

    visible: bool
    """The workflow exists in the orchestrator (for Airflow: its DAG was parsed)."""
    error: str | None = None
    """Why it cannot run: the spec's or the DAG file's import error."""
