"""The enumerations of the public API; their values are part of the JSON and CLI output contract."""

from __future__ import annotations

import enum

__all__ = [
    "DependencyDirection",
    "ResultStatus",
    "RunStatus",
    "RunType",
    "ScheduleTrigger",
    "SourceType",
    "WorkflowStatus",
]


class SourceType(str, enum.Enum):
    """Where a workflow's spec comes from."""

    MANUAL = "manual"
    CODE = "code"


class WorkflowStatus(str, enum.Enum):
    """The state of a workflow's schedule."""

    ACTIVE = "active"
    PAUSED = "paused"
    OVERRIDDEN = "overridden"


class RunStatus(str, enum.Enum):
    """The state of one run."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """Whether the run can no longer change."""
        return self in _TERMINAL

    @property
    def rank(self) -> int:
        """Position in the life cycle; a run's rank never decreases."""
        return 0 if self is RunStatus.PENDING else 1 if self is RunStatus.RUNNING else 2


_TERMINAL = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.KILLED})


class RunType(str, enum.Enum):
    """What started a run."""

    ADHOC = "adhoc"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"


class ResultStatus(str, enum.Enum):
    """Outcome of an API operation."""

    SUCCESS = "success"
    FAILURE = "failure"


class ScheduleTrigger(str, enum.Enum):
    """What starts a workflow's scheduled runs."""

    CRON = "cron"
    """Its cron expression."""
    UPSTREAM = "upstream"
    """New data in every upstream dataset dli manages (``schedule: {after: upstream}``)."""
    BOTH = "both"
    """Whichever comes first: the cron or new upstream data."""


class DependencyDirection(str, enum.Enum):
    """Which side of a dataset's dependency graph to show."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"
