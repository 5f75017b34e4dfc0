"""The rows of a listing: ``WorkflowInfo``, ``BrokenSpec`` and ``WorkflowListResult``.

Re-exported by ``dli.domain.model.workflow``; apart from it so that the other results
(``_results``, built on first use) can use ``WorkflowInfo`` without importing the module that
re-exports them.
"""

from __future__ import annotations

import datetime as dt

import attrs

from dli.domain.model.enums import ResultStatus, ScheduleTrigger, SourceType, WorkflowStatus

__all__ = ["BrokenSpec", "WorkflowInfo", "WorkflowListResult"]


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
