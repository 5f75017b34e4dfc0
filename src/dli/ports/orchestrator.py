"""Orchestrator port: what the use-cases need from Airflow (or its in-memory stand-in)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from dli.domain.model.enums import RunStatus
from dli.domain.model.run_details import RunDetails

if TYPE_CHECKING:
    from dli.domain.model.workflow import DagState

__all__ = ["BackfillHandle", "BackfillRequest", "ChainStep", "Orchestrator", "RunQuery", "RunRecord", "WorkflowState"]


@attrs.frozen(kw_only=True)
class RunRecord(RunDetails):
    """A run as the orchestrator knows it."""

    status: RunStatus
    """Current status."""
    queued_at: dt.datetime | None = None
    """When it was created (sort key of history)."""


@attrs.frozen(kw_only=True)
class RunQuery:
    """Which runs ``list_runs`` answers with."""

    names: Collection[str] | None = None
    """Only runs of these workflows (``None``: all workflows; empty: none)."""
    status: RunStatus | None = None
    """Only runs in this status."""
    limit: int = 20
    """At most this many runs."""


@attrs.frozen(kw_only=True)
class WorkflowState:
    """What the orchestrator says about one workflow, for a list row."""

    paused: bool | None
    """Whether its schedule is paused; ``None`` when the orchestrator does not know it yet."""
    running: bool
    """Whether it has a pending or running run."""


@attrs.frozen(kw_only=True)
class BackfillHandle:
    """A backfill that was started."""

    backfill_id: str
    """Orchestrator's id of the backfill."""
    run_ids: tuple[str, ...]
    """One run per date, in date order."""


@attrs.frozen(kw_only=True)
class BackfillRequest:
    """A backfill of one workflow: one run per date, in date order."""

    name: str
    """The dataset (workflow)."""
    dates: Sequence[dt.date]
    """The calendar days it processes (their ``execution_date``), in ``timezone``."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """Run parameters besides ``execution_date``."""
    triggered_by: str | None = None
    """Who asked for it."""
    timezone: str = "UTC"
    """The workflow's schedule timezone."""


@attrs.frozen(kw_only=True)
class ChainStep:
    """One run of a chained backfill: a dataset and the date it processes."""

    name: str
    """The dataset (workflow)."""
    date: dt.date
    """The calendar day it processes (its ``execution_date``), in ``timezone``."""
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    """Run parameters besides ``execution_date``."""
    timezone: str = "UTC"
    """The workflow's schedule timezone."""


class Orchestrator(Protocol):
    """Runs workflows. Airflow in production; simulated in memory for MOCK mode and tests.

    Errors: every method raises ``ServerError`` when the orchestrator cannot be reached (naming it),
    ``WorkflowNotFoundError`` for an unknown run, ``InvalidStateError`` to stop a finished run.
    """

    def sync(self, name: str) -> None:
        """The stored spec of ``name`` was written or deleted: make the orchestrator pick it up."""
        ...

    def dag_state(self, name: str) -> DagState:
        """Whether ``name`` is live in the orchestrator yet, or why it is not."""
        ...

    def is_paused(self, name: str) -> bool | None:
        """Whether the schedule of ``name`` is paused; ``None`` when the orchestrator does not know it yet.

        Asks about this one workflow only (never a scan of every workflow).
        """
        ...

    def is_running(self, name: str) -> bool:
        """Whether ``name`` has a pending or running run (this one workflow only)."""
        ...

    def workflow_states(self, names: Collection[str]) -> Mapping[str, WorkflowState]:
        """The state of each of ``names`` (a page of a listing), in a few calls whatever their number.

        Every name is answered (``paused=None`` for one the orchestrator does not know). Only a
        caching decorator may leave names out: those it could not get in time are unknown.
        """
        ...

    def last_run_states(self, names: Collection[str]) -> Mapping[str, RunStatus]:
        """The status of the newest run (newest as ``list_runs`` orders them) of each of ``names`` (a page
        of a listing, never every workflow); a name without runs is left out. A few calls whatever
        their number."""
        ...

    def pause_states(self) -> Mapping[str, bool]:
        """``name -> is_paused`` for every workflow the orchestrator knows."""
        ...

    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or unpause the schedule of ``name``."""
        ...

    def trigger(self, name: str, *, parameters: Mapping[str, Any], triggered_by: str | None) -> RunRecord:
        """Start an adhoc run now."""
        ...

    def backfill(self, request: BackfillRequest) -> BackfillHandle:
        """Start one run per date, sequential in date order, stopping after the first failed date.

        ``request.dates`` are calendar days in ``request.timezone``, the workflow's schedule timezone.
        """
        ...

    def backfill_chain(self, steps: Sequence[ChainStep], *, triggered_by: str | None) -> BackfillHandle:
        """Start one backfill run per step (any workflows, any order given), each starting only once
        the run of the step before it has ended COMPLETED.

        The first run that fails (or is killed) stops the chain: every later run ends KILLED without
        starting. A run processes its step's date (``execution_date``). Backfill runs never start
        workflows scheduled after their upstreams. Used for ``backfill --with-downstream`` (the
        steps date by date, each date's datasets in dependency order) and for workflows without a
        cron, which have no fire times to backfill.
        """
        ...

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run, or ``None`` when the orchestrator has no such run."""
        ...

    def list_runs(self, query: RunQuery) -> tuple[Sequence[RunRecord], int]:
        """The runs ``query`` asks for, newest first (at most ``query.limit``), and how many matched in all."""
        ...

    def stop_run(self, run_id: str) -> RunRecord:
        """Kill a pending or running run; it ends KILLED."""
        ...

    def running(self) -> set[str]:
        """Names of workflows with a pending or running run."""
        ...

    def logs(self, run_id: str) -> str:
        """Task logs of the run."""
        ...
