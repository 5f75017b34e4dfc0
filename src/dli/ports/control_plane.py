"""Control-plane port: what the ``WorkflowAPI`` facade talks to.

Implemented in process by the use-cases (MOCK and LOCAL modes, and inside the Basecamp server) and
over HTTP by the Basecamp client (SERVER mode). Both raise the same DLI exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from dli.domain.model.enums import RunStatus, SourceType, WorkflowStatus
from dli.domain.model.queries import HistoryQuery, ListQuery
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.workflow import (
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.domain.model.workflow import DagState

__all__ = ["ControlPlane"]


class ControlPlane(Protocol):
    """Every workflow operation, as one interface."""

    def get(self, dataset_name: str) -> WorkflowInfo | None:
        """The workflow of ``dataset_name`` (the active one when code overrides manual), or ``None``."""
        ...

    def register(self, *, spec: DatasetSpec, force: bool = False) -> WorkflowRegisterResult:
        """Register ``spec`` (its ``schedule`` set) as a MANUAL workflow.

        Raises:
            WorkflowPermissionError: A CODE workflow of that name exists (DLI-803).
            WorkflowAlreadyExistsError: A MANUAL one exists and ``force`` is false (DLI-804).
        """
        ...

    def unregister(self, dataset_name: str) -> WorkflowRunResult:
        """Delete the MANUAL workflow (DLI-800 if none, DLI-803 for CODE)."""
        ...

    def run(self, dataset_name: str, *, parameters: Mapping[str, Any], dry_run: bool = False) -> WorkflowRunResult:
        """Trigger an adhoc run (DLI-204 for bad parameters)."""
        ...

    def backfill(
        self,
        dataset_name: str,
        *,
        start_date: str,
        end_date: str,
        parameters: Mapping[str, Any],
        dry_run: bool = False,
    ) -> WorkflowRunResult:
        """Run every date of the range, sequentially, stopping after the first failure."""
        ...

    def stop(self, run_id: str) -> WorkflowRunResult:
        """Kill a run (DLI-807 when it already finished)."""
        ...

    def get_status(self, run_id: str) -> WorkflowStatusResult:
        """Status of one run (DLI-800 when unknown)."""
        ...

    def list_workflows(self, query: ListQuery) -> WorkflowListResult:
        """Workflows matching ``query``, sorted by name."""
        ...

    def history(self, query: HistoryQuery) -> WorkflowHistoryResult:
        """Runs matching ``query``, newest first."""
        ...

    def pause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        """Pause the schedule of the active workflow (DLI-807 when already paused).

        ``source_type`` names the workflow meant; ``manual`` for an overridden one is DLI-806.
        """
        ...

    def unpause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        """Resume the schedule (DLI-806 when the manual one meant is overridden, DLI-807 when not paused)."""
        ...

    def logs(self, run_id: str) -> RunLogs:
        """Task logs of a run."""
        ...

    def dag_state(self, dataset_name: str) -> DagState:
        """Whether the orchestrator runs ``dataset_name`` yet (its DAG is parsed), or its import error."""
        ...
