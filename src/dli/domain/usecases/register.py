"""RegisterWorkflow and UnregisterWorkflow."""

from __future__ import annotations

from dli.domain.model.dependencies import check_acyclic, upstream_warnings
from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import (
    StoreUnavailableError,
    WorkflowAlreadyExistsError,
    WorkflowNotFoundError,
    WorkflowUnregisterError,
)
from dli.domain.model.permissions import Action, check_allowed
from dli.domain.model.spec import SpecDocument
from dli.domain.model.workflow import WorkflowRegisterResult, WorkflowRunResult
from dli.domain.usecases._workflows import find, not_found, workflow_info
from dli.domain.usecases.dependencies import load_active_specs
from dli.domain.usecases.messages import RegisterWorkflow, UnregisterWorkflow
from dli.ports.clock import Clock
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore

__all__ = ["register_workflow", "unregister_workflow"]


def register_workflow(
    message: RegisterWorkflow, *, store: SpecStore, orchestrator: Orchestrator, clock: Clock
) -> WorkflowRegisterResult:
    """Store the spec under manual/ and make the orchestrator schedule it.

    A CODE workflow of the same name refuses (DLI-803); an existing MANUAL one needs ``force``
    (DLI-804), and is then replaced only if it did not change since it was read. A ``depends_on``
    that closes a dependency cycle among managed datasets refuses (DLI-203, naming the cycle);
    upstreams no store knows are external and only warned about.
    """
    spec = message.spec
    assert spec.schedule is not None  # the message checked it
    found = find(store, spec.name)
    if found.code is not None:
        check_allowed(Action.MODIFY, source=SourceType.CODE, dataset_name=spec.name)
    if found.manual is not None and not message.force:
        raise WorkflowAlreadyExistsError(
            f"Workflow '{spec.name}' is already registered",
            hints=("Use --force to overwrite the existing MANUAL registration.",),
            details={"dataset_name": spec.name},
        )
    # The graph as it will be once this spec is active: a cycle through it is refused before anything is written.
    active = load_active_specs(store, overlay={spec.name: spec})
    check_acyclic(active.graph, roots=[spec.name])
    warnings = upstream_warnings(active.graph, spec)
    now = clock.now()
    document = SpecDocument(
        spec=spec, source_type=SourceType.MANUAL, registered_by=message.actor, registered_at=now
    )
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
        warning="; ".join(warnings) or None,
    )


def unregister_workflow(
    message: UnregisterWorkflow, *, store: SpecStore, orchestrator: Orchestrator
) -> WorkflowRunResult:
    """Delete the MANUAL workflow (a CODE one only goes through Git: DLI-803) and unschedule it at once.

    Airflow would keep the DAG scheduled until it notices the spec is gone (about 90 s): the DAG is
    paused first, so nothing fires after ``unregister`` returns.
    """
    name = message.dataset_name
    found = find(store, name)
    if found.manual is None:
        if found.code is not None:
            check_allowed(Action.DELETE, source=SourceType.CODE, dataset_name=name)
        raise not_found(name)
    if found.code is None:
        try:
            orchestrator.set_paused(name, True)
        except WorkflowNotFoundError:  # never parsed: nothing to unschedule
            pass
    try:
        deleted = store.delete(SourceType.MANUAL, name)
    except StoreUnavailableError as exc:
        raise WorkflowUnregisterError(
            f"Workflow '{name}' was not unregistered: {exc.message}",
            hints=("Nothing was deleted; try again when the spec store answers.", *exc.hints),
            details={"dataset_name": name},
        ) from None
    if not deleted:
        raise not_found(name)
    orchestrator.sync(name)
    message_text = f"Workflow '{name}' unregistered"
    if found.code is not None:
        message_text += " (the CODE workflow of the same name stays active)"
    return WorkflowRunResult(dataset_name=name, status=ResultStatus.SUCCESS, message=message_text)
