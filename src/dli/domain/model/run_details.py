"""One run as every part of dli knows it: the details the orchestrator's record, a history row and a
run's status share (``RunDetails``), and the wait for a retry (``RetryWait``).

Apart from ``workflow_runs`` (the answers built on it) so that the orchestrator port can use it
without loading those answers (``tests/unit/entrypoints/cli/test_startup_imports.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import RunType

__all__ = ["RetryWait", "RunDetails"]


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
class RunDetails:
    """What every account of one run tells: the orchestrator's record (``dli.ports.orchestrator.RunRecord``),
    a history row (``WorkflowRun``) and a run's status (``WorkflowStatusResult``) each add their own."""

    run_id: str
    """Run id, unique across workflows (``<dataset>@<orchestrator run id>``)."""
    dataset_name: str
    """The dataset."""
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
