"""GetWorkflow and ListWorkflows."""

from __future__ import annotations

import fnmatch

from dli.domain.model.enums import ResultStatus, SourceType, WorkflowStatus
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.override import resolve_override
from dli.domain.usecases._workflows import find, workflow_info
from dli.domain.model.workflow import WorkflowInfo, WorkflowListResult
from dli.ports.clock import Clock
from dli.domain.model.queries import ListQuery
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["get_workflow", "list_workflows"]


def get_workflow(*, name: str, store: SpecStore, orchestrator: Orchestrator, clock: Clock) -> WorkflowInfo | None:
    """The active workflow of ``name`` (code over manual), or ``None``."""
    validate_dataset_name(name)
    found = find(store, name)
    if found.active is None:
        return None
    return workflow_info(
        found.active.document,
        overridden=False,
        paused=orchestrator.pause_states().get(name),
        running=name in orchestrator.running(),
        now=clock.now(),
    )


def _matches(name: str, pattern: str) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def list_workflows(*, query: ListQuery, store: SpecStore, orchestrator: Orchestrator, clock: Clock) -> WorkflowListResult:
    """Every stored workflow matching ``query``; a manual spec overridden by code is listed too."""
    sources = [query.source_type] if query.source_type else [SourceType.CODE, SourceType.MANUAL]
    code_names = store.list_etags(SourceType.CODE).keys()
    manual_names = store.list_etags(SourceType.MANUAL).keys()
    resolutions = resolve_override(code=code_names, manual=manual_names)
    paused = orchestrator.pause_states()
    running = orchestrator.running()
    now = clock.now()
    out: list[WorkflowInfo] = []
    for name, resolution in resolutions.items():
        if query.dataset_filter and not _matches(name, query.dataset_filter):
            continue
        if query.running_only and name not in running:
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
            if query.status and info.status is not query.status:
                continue
            if query.enabled_only and info.status is not WorkflowStatus.ACTIVE:
                continue
            out.append(info)
    out.sort(key=lambda w: (w.dataset_name, w.source_type is SourceType.MANUAL))
    return WorkflowListResult(workflows=tuple(out[: query.limit]), total_count=len(out), status=ResultStatus.SUCCESS)
