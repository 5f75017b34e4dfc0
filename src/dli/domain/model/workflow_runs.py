"""A workflow's runs as users see them: a run, its status, its logs, the history, and the result of
the operations that start or stop runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import ResultStatus, RunStatus, RunType, SourceType
from dli.domain.model.workflow import DatasetInfo

__all__ = [
    "RetryWait",
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


def _at_least_one(_instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, not {value}")


def _another_attempt_left(instance: RetryWait, _attribute: attrs.Attribute[int], value: int) -> None:
    if value <= instance.attempt:
        raise ValueError(
            f"max_attempts ({value}) must exceed the failed attempt ({instance.attempt}) while a retry waits"
        )


@attrs.frozen(kw_only=True)
class RetryWait:
    """A run whose statement failed and that waits for its next attempt (Airflow's ``up_for_retry``).

    The run stays RUNNING meanwhile: it may still complete, ``stop`` kills it, ``--wait`` goes on
    waiting. This says that the time passing is a wait for a retry, not a slow statement.
    """

    attempt: int = attrs.field(validator=_at_least_one)
    """The attempt that failed, counted from 1 (the next one is ``attempt + 1``)."""
    max_attempts: int = attrs.field(validator=_another_attempt_left)
    """Attempts the statement gets in all: the spec's retries plus one."""
    last_error: str | None = None
    """Why the failed attempt failed, when the orchestrator can tell."""
    failed_at: dt.datetime | None = None
    """When the failed attempt ended."""
    next_attempt_at: dt.datetime | None = None
    """When the next attempt is due (``failed_at`` plus the retry delay); it starts then or at the
    orchestrator's next scheduling round after. ``None`` when it cannot be known."""


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
    retry: RetryWait | None = None
    """Set while the run (``running``) waits for the next attempt of a statement that failed."""

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
    retry: RetryWait | None = None
    """Set while the run (``running``) waits for the next attempt of a statement that failed."""


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
