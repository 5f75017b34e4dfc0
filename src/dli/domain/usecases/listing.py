"""GetWorkflow, GetDagState and ListWorkflows."""

from __future__ import annotations

import fnmatch

from dli.domain.model.enums import ResultStatus, SourceType, WorkflowStatus
from dli.domain.model.override import resolve_override
from dli.domain.model.workflow import DagState, WorkflowInfo, WorkflowListResult
from dli.domain.usecases._workflows import find, not_found, workflow_info
from dli.domain.usecases.messages import GetDagState, GetWorkflow, ListWorkflows
from dli.ports.clock import Clock
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["get_dag_state", "get_workflow", "list_workflows"]


def get_workflow(message: GetWorkflow, *, store: SpecStore, orchestrator: Orchestrator, clock: Clock) -> WorkflowInfo:
    """The active workflow (code over manual); DLI-800 when there is none."""
    name = message.dataset_name
    found = find(store, name)
    if found.active is None:
        raise not_found(name)
    return workflow_info(
        found.active.document,
        overridden=False,
        paused=orchestrator.is_paused(name),
        running=orchestrator.is_running(name),
        now=clock.now(),
    )


def get_dag_state(message: GetDagState, *, orchestrator: Orchestrator) -> DagState:
    """Whether the orchestrator runs the workflow yet, or why it cannot."""
    return orchestrator.dag_state(message.dataset_name)


def _matches(name: str, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def list_workflows(
    message: ListWorkflows, *, store: SpecStore, orchestrator: Orchestrator, clock: Clock
) -> WorkflowListResult:
    """Every stored workflow matching the filters; a manual spec overridden by code is listed too."""
    sources = [message.source_type] if message.source_type else [SourceType.CODE, SourceType.MANUAL]
    code_names = store.list_etags(SourceType.CODE).keys()
    manual_names = store.list_etags(SourceType.MANUAL).keys()
    resolutions = resolve_override(code=code_names, manual=manual_names)
    paused = orchestrator.pause_states()
    running = orchestrator.running()
    now = clock.now()
    out: list[WorkflowInfo] = []
    for name, resolution in resolutions.items():
        if message.dataset_filter and not _matches(name, message.dataset_filter):
            continue
        if message.running_only and name not in running:
            continue
        for source in sources:
            if source is SourceType.CODE and resolution.active is not SourceType.CODE:
                continue
            if source is SourceType.MANUAL and not resolution.has_manual:
                continue
            versioned = store.read(source, name)
            if versioned is None:  # deleted between listing and reading
                continue
            info = workflow_info(
                versioned.document,
                overridden=source is SourceType.MANUAL and resolution.manual_overridden,
                paused=paused.get(name),
                running=name in running,
                now=now,
            )
            if message.status and info.status is not message.status:
                continue
            if message.enabled_only and info.status is not WorkflowStatus.ACTIVE:
                continue
            out.append(info)
    out.sort(key=lambda w: (w.dataset_name, w.source_type is SourceType.MANUAL))
    return WorkflowListResult(workflows=tuple(out[: message.limit]), total_count=len(out), status=ResultStatus.SUCCESS)
