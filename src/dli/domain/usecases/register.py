"""RegisterWorkflow and UnregisterWorkflow."""

from __future__ import annotations

from typing import Any

import attrs

from dli.domain.model.dependencies import check_acyclic, upstream_warnings
from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import (
    DLIError,
    SpecInvalidError,
    StoreUnavailableError,
    WorkflowAlreadyExistsError,
    WorkflowNotFoundError,
    WorkflowUnregisterError,
    already_registered,
)
from dli.domain.model.names import validate_dataset_name
from dli.domain.model.permissions import Action, check_allowed
from dli.domain.model.spec import DatasetSpec, SpecDocument
from dli.domain.model.verbs import Verb
from dli.domain.model.workflow import WorkflowRegisterResult
from dli.domain.model.workflow_runs import WorkflowRunResult
from dli.domain.usecases._workflows import not_found, read_or_broken, workflow_info
from dli.domain.usecases.dependencies import load_active_specs
from dli.domain.usecases.message import Message, Route, WorkflowMessage, flag, handles
from dli.domain.usecases.validate import check_spec_sql, refuse_sql_errors, sql_warnings
from dli.ports.clock import Clock
from dli.ports.orchestrator import Orchestrator
from dli.ports.spec_store import SpecStore, VersionedDocument
from dli.ports.sql_analyzer import SqlAnalyzer

__all__ = ["RegisterWorkflow", "UnregisterWorkflow", "register_workflow", "unregister_workflow"]


def _scheduled(_instance: object, _attribute: object, spec: Any) -> None:
    if not isinstance(spec, DatasetSpec):
        raise SpecInvalidError("spec must be a dataset spec")
    if spec.schedule is None:
        raise SpecInvalidError(
            f"Dataset '{spec.name}' has no schedule",
            hints=("Pass --cron (and --timezone), or add a schedule: section to the spec.",),
        )


@attrs.frozen(kw_only=True, repr=False)
class RegisterWorkflow(Message[WorkflowRegisterResult]):
    """Store a spec with its schedule under manual/ and make the orchestrator schedule it."""

    route = Route(path="/api/v1/workflows", tag="workflows", created=True)
    verb = Verb.REGISTER

    spec: DatasetSpec = attrs.field(validator=_scheduled)
    """The dataset spec, its ``schedule`` set."""
    force: bool = flag(default=False)
    """Replace an existing MANUAL registration."""
    dry_run: bool = flag(default=False)
    """Run every check of a register (the same code), then write nothing and tell no orchestrator."""

    def subject(self) -> str | None:
        """The dataset the new spec is of."""
        return self.spec.name


@attrs.frozen(kw_only=True, repr=False)
class UnregisterWorkflow(WorkflowMessage[WorkflowRunResult]):
    """Delete a MANUAL workflow (a CODE one goes through Git: DLI-803)."""

    route = Route(path="/api/v1/workflows/{dataset_name}", tag="workflows", method="DELETE")
    verb = Verb.UNREGISTER


# How soon Airflow notices a stored spec by itself: the DAG processor re-parses the dli DAG file
# (which reads the store) every [dag_processor] min_file_process_interval.
_PICKED_UP = (
    "once Airflow answers, at its next parse of the spec store (every min_file_process_interval, 30 s by default)"
)


def _registered_but_not_told(name: str, enabled: bool, problem: DLIError) -> str:
    """The warning of a register whose spec is stored but whose orchestrator could not be told."""
    verb = "unpause" if enabled else "pause"
    return (
        f"Workflow '{name}' is stored, but Airflow could not be told: [{problem.code.value}] {problem.message}. "
        f"Its DAG appears {_PICKED_UP}; a DAG of that name that Airflow already had "
        f"keeps its pause state until 'dli workflow {verb} {name}'."
    )


def _unregistered_but_not_told(name: str, problem: DLIError) -> str:
    """The warning of an unregister whose spec is deleted but whose orchestrator could not be told."""
    return (
        f"Workflow '{name}' is unregistered, but Airflow could not be told: [{problem.code.value}] "
        f"{problem.message}. Its DAG goes away {_PICKED_UP}; until then Airflow may "
        "still start its scheduled runs."
    )


@handles(RegisterWorkflow)
def register_workflow(
    message: RegisterWorkflow,
    *,
    store: SpecStore,
    orchestrator: Orchestrator,
    clock: Clock,
    sql_analyzer: SqlAnalyzer | None = None,
) -> WorkflowRegisterResult:
    """Store the spec under manual/ and make the orchestrator schedule it.

    A CODE workflow of the same name refuses (DLI-803); an existing MANUAL one needs ``force``
    (DLI-804), and is then replaced only if it did not change since it was read. A ``depends_on``
    that closes a dependency cycle among managed datasets refuses (DLI-203, naming the cycle);
    upstreams no store knows are external and only warned about. With an SQL analyzer, each
    statement is parsed in the spec's dialect first (``check_spec_sql``): a syntax error refuses
    (DLI-203, naming statement, line and column) before anything is written.

    The store is the source of truth: once the spec is written, the registration has happened. If
    the orchestrator cannot be told then (down, hung, refusing), the result says so in its
    ``warning`` instead of failing: the DAG factory picks the spec up by itself.
    """
    spec = message.spec
    assert spec.schedule is not None  # the message checked it
    validate_dataset_name(spec.name)
    # A stored document that cannot be read (a bad upload, an older dli) still counts: a broken
    # CODE one keeps the name CODE's, a broken MANUAL one is replaced by --force.
    code = read_or_broken(store, SourceType.CODE, spec.name)
    manual = read_or_broken(store, SourceType.MANUAL, spec.name)
    if code is not None:
        check_allowed(Action.MODIFY, source=SourceType.CODE, dataset_name=spec.name)
    if manual is not None and not message.force:
        raise _already_registered(spec.name, manual)
    # The graph as it will be once this spec is active: a cycle through it is refused before anything is written.
    active = load_active_specs(store, overlay={spec.name: spec})
    check_acyclic(active.graph, roots=[spec.name])
    warnings = list(upstream_warnings(active.graph, spec))
    if sql_analyzer is not None:
        report = check_spec_sql(spec, sql_analyzer, managed=list(active.graph.upstreams))
        refuse_sql_errors([report], where="spec")
        warnings += sql_warnings(report)
    now = clock.now()
    document = SpecDocument(spec=spec, source_type=SourceType.MANUAL, registered_by=message.actor, registered_at=now)
    managed, external = active.graph.managed_upstreams(spec.name), active.graph.external_upstreams(spec.name)
    if message.dry_run:
        return WorkflowRegisterResult(
            dataset_name=spec.name,
            status=ResultStatus.SUCCESS,
            workflow_info=workflow_info(
                document, overridden=False, paused=not spec.schedule.enabled, running=False, now=now
            ),
            message=f"Dry run: '{spec.name}' would be {'updated' if manual is not None else 'registered'}",
            updated=manual is not None,
            previous_cron=manual.document.schedule.cron if isinstance(manual, VersionedDocument) else None,
            warning="; ".join(warnings) or None,
            warnings=tuple(warnings),
            dry_run=True,
            schedule=spec.schedule,
            upstreams=managed,
            external_upstreams=external,
        )
    previous_cron = None
    if manual is None:
        store.create(SourceType.MANUAL, document)
    elif isinstance(manual, SpecInvalidError):
        # Replaced at the version listed: a write of that key since then still refuses (DLI-801).
        etag = store.list_etags(SourceType.MANUAL).get(spec.name)
        if etag is None:
            store.create(SourceType.MANUAL, document)
        else:
            store.replace(SourceType.MANUAL, document, etag=etag)
    else:
        previous_cron = manual.document.schedule.cron
        store.replace(SourceType.MANUAL, document, etag=manual.etag)
    try:
        orchestrator.sync(spec.name)
        orchestrator.set_paused(spec.name, not spec.schedule.enabled)
    except DLIError as exc:  # the first failure ends the talking: a hung orchestrator costs one timeout
        warnings.append(_registered_but_not_told(spec.name, spec.schedule.enabled, exc))
    info = workflow_info(document, overridden=False, paused=not spec.schedule.enabled, running=False, now=now)
    updated = manual is not None
    return WorkflowRegisterResult(
        dataset_name=spec.name,
        status=ResultStatus.SUCCESS,
        source_type=SourceType.MANUAL,
        workflow_info=info,
        message=f"Workflow '{spec.name}' {'updated' if updated else 'registered'}",
        updated=updated,
        previous_cron=previous_cron,
        warning="; ".join(warnings) or None,
        warnings=tuple(warnings),
        schedule=spec.schedule,
        upstreams=managed,
        external_upstreams=external,
    )


@handles(UnregisterWorkflow)
def unregister_workflow(
    message: UnregisterWorkflow, *, store: SpecStore, orchestrator: Orchestrator
) -> WorkflowRunResult:
    """Delete the MANUAL workflow (a CODE one only goes through Git: DLI-803) and unschedule it at once.

    Airflow would keep the DAG scheduled until it notices the spec is gone (about 90 s): the DAG is
    paused first, so nothing fires after ``unregister`` returns. A DAG the orchestrator does not
    have yet (never parsed) has nothing to pause. When the orchestrator cannot be told (down, hung),
    the spec is deleted all the same and the result's ``warnings`` say so: the store is the source
    of truth and the DAG factory drops the DAG by itself.
    """
    name = validate_dataset_name(message.dataset_name)
    # A MANUAL document that cannot be read is deleted all the same: that is how a user gets rid of it.
    code = read_or_broken(store, SourceType.CODE, name)
    manual = read_or_broken(store, SourceType.MANUAL, name)
    if manual is None:
        if code is not None:
            check_allowed(Action.DELETE, source=SourceType.CODE, dataset_name=name)
        raise not_found(name)
    problem: DLIError | None = None
    if code is None:
        try:
            if orchestrator.is_paused(name) is False:
                orchestrator.set_paused(name, True)
        except WorkflowNotFoundError:  # never parsed: nothing to unschedule
            pass
        except DLIError as exc:
            problem = exc
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
    if problem is None:  # an orchestrator that just failed is not asked again
        try:
            orchestrator.sync(name)
        except DLIError as exc:
            problem = exc
    message_text = f"Workflow '{name}' unregistered"
    if code is not None:
        message_text += " (the CODE workflow of the same name stays active)"
    warnings = (_unregistered_but_not_told(name, problem),) if problem is not None else ()
    return WorkflowRunResult(dataset_name=name, status=ResultStatus.SUCCESS, message=message_text, warnings=warnings)


def _already_registered(name: str, manual: object) -> WorkflowAlreadyExistsError:
    error = already_registered(name)
    if isinstance(manual, SpecInvalidError):
        error = WorkflowAlreadyExistsError(
            f"Workflow '{name}' is already registered, and its stored MANUAL spec cannot be read: {manual.message}",
            hints=("Use --force to replace it with this spec, or unregister it.",),
            details=error.details,
        )
    return error
