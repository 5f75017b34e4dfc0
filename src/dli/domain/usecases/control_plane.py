"""The control plane in process: the use-cases over a store, an orchestrator and a clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dli.domain.model.enums import SourceType
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.spec import DatasetSpec
from dli.domain.usecases.backfill import trigger_backfill
from dli.domain.usecases.history import get_history
from dli.domain.usecases.listing import get_workflow, list_workflows
from dli.domain.usecases.pause import pause_workflow, unpause_workflow
from dli.domain.usecases.register import register_workflow, unregister_workflow
from dli.domain.usecases.runs import get_run_logs, get_run_status, stop_run, trigger_run
from dli.domain.model.workflow import (
    RunLogs,
    WorkflowHistoryResult,
    WorkflowInfo,
    WorkflowListResult,
    WorkflowRegisterResult,
    WorkflowRunResult,
    WorkflowStatusResult,
)
from dli.ports.clock import Clock
from dli.domain.model.queries import HistoryQuery, ListQuery
from dli.ports.orchestrator import DagState, Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["InProcessControlPlane"]


@attrs.frozen(kw_only=True)
class InProcessControlPlane:
    """Implements the ControlPlane port by calling the use-cases directly."""

    store: SpecStore
    """Where specs live."""
    orchestrator: Orchestrator
    """What runs them."""
    clock: Clock
    """The time."""
    actor: str | None = None
    """The user on whose behalf operations run (``registered_by``, ``triggered_by``)."""

    def acting_as(self, actor: str | None) -> InProcessControlPlane:
        """The same control plane, acting for ``actor``."""
        return attrs.evolve(self, actor=actor)

    def get(self, dataset_name: str) -> WorkflowInfo | None:
        return get_workflow(name=dataset_name, store=self.store, orchestrator=self.orchestrator, clock=self.clock)

    def register(self, *, spec: DatasetSpec, force: bool = False) -> WorkflowRegisterResult:
        return register_workflow(
            spec=spec, force=force, actor=self.actor, store=self.store, orchestrator=self.orchestrator, clock=self.clock
        )

    def unregister(self, dataset_name: str) -> WorkflowRunResult:
        return unregister_workflow(name=dataset_name, store=self.store, orchestrator=self.orchestrator)

    def run(self, dataset_name: str, *, parameters: Mapping[str, Any], dry_run: bool = False) -> WorkflowRunResult:
        return trigger_run(
            name=dataset_name,
            parameters=parameters,
            dry_run=dry_run,
            actor=self.actor,
            store=self.store,
            orchestrator=self.orchestrator,
        )

    def backfill(
        self,
        dataset_name: str,
        *,
        start_date: str,
        end_date: str,
        parameters: Mapping[str, Any],
        dry_run: bool = False,
    ) -> WorkflowRunResult:
        return trigger_backfill(
            name=dataset_name,
            start_date=start_date,
            end_date=end_date,
            parameters=parameters,
            dry_run=dry_run,
            actor=self.actor,
            store=self.store,
            orchestrator=self.orchestrator,
        )

    def stop(self, run_id: str) -> WorkflowRunResult:
        return stop_run(run_id=run_id, store=self.store, orchestrator=self.orchestrator)

    def get_status(self, run_id: str) -> WorkflowStatusResult:
        return get_run_status(run_id=run_id, store=self.store, orchestrator=self.orchestrator)

    def list_workflows(self, query: ListQuery) -> WorkflowListResult:
        return list_workflows(query=query, store=self.store, orchestrator=self.orchestrator, clock=self.clock)

    def history(self, query: HistoryQuery) -> WorkflowHistoryResult:
        return get_history(query=query, store=self.store, orchestrator=self.orchestrator)

    def pause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        return pause_workflow(
            name=dataset_name, store=self.store, orchestrator=self.orchestrator, source_type=source_type
        )

    def unpause(self, dataset_name: str, *, source_type: SourceType | None = None) -> WorkflowRunResult:
        return unpause_workflow(
            name=dataset_name, store=self.store, orchestrator=self.orchestrator, source_type=source_type
        )

    def logs(self, run_id: str) -> RunLogs:
        return get_run_logs(run_id=run_id, orchestrator=self.orchestrator)

    def dag_state(self, dataset_name: str) -> DagState:
        return self.orchestrator.dag_state(validate_dataset_name(dataset_name))
