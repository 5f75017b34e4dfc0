"""RegisterWorkflow and UnregisterWorkflow."""

from __future__ import annotations


from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import SpecInvalidError, WorkflowAlreadyExistsError
from dli.domain.model.permissions import Action, check_allowed
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.domain.usecases._workflows import find, not_found, workflow_info
from dli.domain.model.workflow import WorkflowRegisterResult, WorkflowRunResult
from dli.ports.clock import Clock
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["register_workflow", "unregister_workflow"]


def register_workflow(
    *,
    spec: DatasetSpec,
    force: bool,
    actor: str | None,
    store: SpecStore,
    orchestrator: Orchestrator,
    clock: Clock,
) -> WorkflowRegisterResult:
    """Store ``spec`` under manual/ and make the orchestrator schedule it.

    A CODE workflow of the same name refuses (DLI-803); an existing MANUAL one needs ``force``
    (DLI-804), and is then replaced only if it did not change since it was read.
    """
    if spec.schedule is None:
        raise SpecInvalidError(f"Dataset '{spec.name}' has no schedule", hints=("Pass --cron.",))
    found = find(store, spec.name)
    if found.code is not None:
        check_allowed(Action.MODIFY, source=SourceType.CODE, dataset_name=spec.name)
    if found.manual is not None and not force:
        raise WorkflowAlreadyExistsError(
            f"Workflow '{spec.name}' is already registered",
            hints=("Use --force to overwrite the existing MANUAL registration.",),
            details={"dataset_name": spec.name},
        )
    now = clock.now()
    document = SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_by=actor, registered_at=now)
    previous_cron = None
    if found.manual is None:
        store.create(SourceType.MANUAL, document)
    else:
        previous_cron = found.manual.document.schedule.cron
        store.replace(SourceType.MANUAL, document, etag=found.manual.etag)
    orchestrator.sync(spec.name)
    orchestrator.set_paused(spec.name, not spec.schedule.enabled)
    info = workflow_info(document, overridden=False, paused=not spec.schedule.enabled, running=False, now=now)
    updated = found.manual is not None
    return WorkflowRegisterResult(
        dataset_name=spec.name,
        status=ResultStatus.SUCCESS,
        source_type=SourceType.MANUAL,
        workflow_info=info,
        message=f"Workflow '{spec.name}' {'updated' if updated else 'registered'}",
        updated=updated,
        previous_cron=previous_cron,
    )


def unregister_workflow(*, name: str, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Delete the MANUAL workflow of ``name`` (a CODE one only goes through Git: DLI-803)."""
    found = find(store, name)
    if found.manual is None:
        if found.code is not None:
            check_allowed(Action.DELETE, source=SourceType.CODE, dataset_name=name)
        raise not_found(name)
    if not store.delete(SourceType.MANUAL, name):
        raise not_found(name)
    orchestrator.sync(name)
    message = f"Workflow '{name}' unregistered"
    if found.code is not None:
        message += " (the CODE workflow of the same name stays active)"
    return WorkflowRunResult(dataset_name=name, status=ResultStatus.SUCCESS, message=message)


