"""A workflow's runs as users see them: a run, its status, its logs, the history, and the result of
the operations that start or stop runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import ResultStatus, RunStatus, SourceType
from dli.domain.model.run_details import RetryWait, RunDetails
from dli.domain.model.workflow import DatasetInfo

__all__ = [
    "RetryWait",
    "RunDetails",
    "RunLogs",
    "WorkflowHistoryResult",
    "WorkflowRun",
    "WorkflowRunResult",
    "WorkflowStatusResult",
]


class _RunTiming:
    """Shared properties of anything with a run status and start/finish times."""

    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def run_status(self) -> RunStatus:
        """The run's status."""
        raise NotImplementedError

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
class WorkflowRun(RunDetails, _RunTiming):
    """One run of a workflow."""

    source_type: SourceType
    """Source of the spec the run belongs to."""
    status: RunStatus
    """Run status."""

    @property
    def run_status(self) -> RunStatus:
        """Alias of ``status`` (for the shared timing properties)."""
        return self.status


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
class WorkflowStatusResult(RunDetails, _RunTiming):
    """Detailed status of one run."""

    source_type: SourceType
    """Source of the workflow."""
    run_status: RunStatus
    """Current status."""


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
    warnings: tuple[str, ...] = ()
    """What the user should know although it succeeded (e.g. that no workflow has the name asked for)."""


@attrs.frozen(kw_only=True)
class RunLogs:
    """Task logs of a run."""

    run_id: str
    """The run."""
    text: str
    """The logs, task by task."""
