"""PauseWorkflow and UnpauseWorkflow (allowed for CODE workflows too)."""

from __future__ import annotations

import attrs

from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import InvalidStateError, WorkflowOverriddenError
from dli.domain.model.permissions import Action, check_allowed
from dli.domain.model.verbs import Verb
from dli.domain.model.workflow_runs import WorkflowRunResult
from dli.domain.usecases._workflows import find, not_found
from dli.domain.usecases.message import Route, WorkflowMessage, handles, to_source_type
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["PauseWorkflow", "UnpauseWorkflow", "pause_workflow", "unpause_workflow"]


@attrs.frozen(kw_only=True, repr=False)
class _ScheduleSwitch(WorkflowMessage[WorkflowRunResult]):
    """What pausing and resuming a schedule both ask: the dataset, and which of its workflows."""

    source_type: SourceType | None = attrs.field(default=None, converter=to_source_type)
    """The workflow meant when code overrides manual (``manual`` for an overridden one is DLI-806)."""


@attrs.frozen(kw_only=True, repr=False)
class PauseWorkflow(_ScheduleSwitch):
    """Pause the schedule of the active workflow (CODE workflows too)."""

    route = Route(path="/api/v1/workflows/{dataset_name}/pause", tag="workflows")
    verb = Verb.PAUSE


@attrs.frozen(kw_only=True, repr=False)
class UnpauseWorkflow(_ScheduleSwitch):
    """Resume the schedule (DLI-806 when the manual workflow meant is overridden)."""

    route = Route(path="/api/v1/workflows/{dataset_name}/unpause", tag="workflows")
    verb = Verb.UNPAUSE


def _set_paused(
    *, name: str, paused: bool, source_type: SourceType | None, store: SpecStore, orchestrator: Orchestrator
) -> WorkflowRunResult:
    action = Action.PAUSE if paused else Action.UNPAUSE
    found = find(store, name)
    meant = found.active if source_type is None else (found.code if source_type is SourceType.CODE else found.manual)
    if meant is None:
        raise not_found(name)
    if source_type is SourceType.MANUAL and found.code is not None:
        raise WorkflowOverriddenError(
            f"Cannot {action.value}: workflow '{name}' is overridden by CODE",
            hints=("The CODE workflow of the same name runs instead; pause or unpause that one.",),
            details={"dataset_name": name},
        )
    assert found.active is not None
    document = found.active.document
    check_allowed(action, source=document.source_type, dataset_name=name)
    current = orchestrator.is_paused(name)
    if current is None:
        current = not document.schedule.enabled
    if current == paused:
        state = "already paused" if paused else "not paused"
        raise InvalidStateError(
            f"Workflow '{name}' is {state}",
            hints=(f"See its status with 'dli workflow list -d {name}'.",),
            details={"dataset_name": name},
        )
    orchestrator.set_paused(name, paused)
    verb = "paused" if paused else "resumed"
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        message=f"Workflow '{name}' {verb} ({document.source_type.value})",
    )


@handles(PauseWorkflow)
def pause_workflow(message: PauseWorkflow, *, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Pause the schedule of the active workflow (DLI-807 when already paused)."""
    return _set_paused(
        name=message.dataset_name, paused=True, source_type=message.source_type, store=store, orchestrator=orchestrator
    )


@handles(UnpauseWorkflow)
def unpause_workflow(message: UnpauseWorkflow, *, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Resume the schedule (DLI-806 for an overridden manual workflow, DLI-807 when not paused)."""
    return _set_paused(
        name=message.dataset_name, paused=False, source_type=message.source_type, store=store, orchestrator=orchestrator
    )
