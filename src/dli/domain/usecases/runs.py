"""TriggerRun, StopRun, GetRunStatus and GetRunLogs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import InvalidStateError, WorkflowNotFoundError
from dli.domain.model.parameters import BUILTIN_PARAMETERS, coerce_parameters
from dli.domain.model.spec import DatasetSpec
from dli.domain.model.verbs import Verb
from dli.domain.model.workflow_runs import RunLogs, WorkflowRunResult, WorkflowStatusResult
from dli.domain.usecases._workflows import require_active, run_fields
from dli.domain.usecases.message import (
    RUN_ID,
    Message,
    Route,
    WorkflowMessage,
    check_run_id,
    flag,
    handles,
    to_parameters,
)
from dli.ports.orchestrator import Orchestrator, RunRecord
from dli.ports.spec_store import SpecStore

__all__ = [
    "GetRunLogs",
    "GetRunStatus",
    "StopRun",
    "TriggerRun",
    "check_runnable",
    "dry_run_result",
    "get_run_logs",
    "get_run_status",
    "split_parameters",
    "stop_run",
    "trigger_run",
]


@attrs.frozen(kw_only=True, repr=False)
class TriggerRun(WorkflowMessage[WorkflowRunResult]):
    """Start an adhoc run; ``dry_run`` only validates the parameters."""

    route = Route(path="/api/v1/workflows/{dataset_name}/run", tag="runs")
    verb = Verb.RUN

    parameters: dict[str, Any] = attrs.field(factory=dict, converter=to_parameters)
    """Run parameters (checked against the spec's declared parameters)."""
    dry_run: bool = flag(default=False)
    """Only validate."""


# Run ids contain '@', ':' and '+' (e.g. 'shop.sales@scheduled__2025-01-01T09:00:00+00:00'): clients
# percent-encode them as one path segment.


@attrs.frozen(kw_only=True, repr=False)
class StopRun(Message[WorkflowRunResult]):
    """Kill a pending or running run (DLI-807 when it already finished)."""

    route = Route(path="/api/v1/runs/{run_id}/stop", tag="runs")
    verb = Verb.STOP

    run_id: str = attrs.field(validator=check_run_id, metadata=RUN_ID)
    """Public run id (``<dataset>@<run>``)."""


@attrs.frozen(kw_only=True, repr=False)
class GetRunStatus(Message[WorkflowStatusResult]):
    """The status of one run (DLI-800 when unknown)."""

    query = True
    route = Route(path="/api/v1/runs/{run_id}", tag="runs")

    run_id: str = attrs.field(validator=check_run_id, metadata=RUN_ID)
    """Public run id."""


@attrs.frozen(kw_only=True, repr=False)
class GetRunLogs(Message[RunLogs]):
    """The task logs of one run."""

    query = True
    route = Route(path="/api/v1/runs/{run_id}/logs", tag="runs")

    run_id: str = attrs.field(validator=check_run_id, metadata=RUN_ID)
    """Public run id."""


def dry_run_result(
    name: str,
    parameters: Mapping[str, Any],
    warnings: Sequence[str],
    message: str,
    *,
    dates: tuple[str, ...] = (),
    datasets: tuple[str, ...] = (),
) -> WorkflowRunResult:
    """What a dry run of a run or a backfill answers: what would run, with which parameters."""
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        dry_run=True,
        dates=dates,
        datasets=datasets,
        parameters=parameters,
        warnings=tuple(warnings),
        message=message,
    )


def check_runnable(name: str, orchestrator: Orchestrator, enabled: bool) -> None:
    """A paused workflow's runs would wait in the queue until unpaused: refuse clearly instead."""
    paused = orchestrator.is_paused(name)
    if paused if paused is not None else not enabled:
        raise InvalidStateError(
            f"Workflow '{name}' is paused: its runs would not start",
            hints=(f"Unpause it first: dli workflow unpause {name}",),
            details={"dataset_name": name},
        )


def split_parameters(spec: DatasetSpec, given: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Declared parameters checked and coerced (DLI-204), undeclared ones passed as given, with a warning.

    Undeclared names are accepted because projects pass values their SQL uses without declaring
    them (``date`` is the usual one); the warning names them and the declared list.
    """
    declared = {p.name for p in spec.parameters} | BUILTIN_PARAMETERS
    undeclared = {k: v for k, v in given.items() if k not in declared}
    coerced = coerce_parameters(spec, {k: v for k, v in given.items() if k in declared})
    warnings: tuple[str, ...] = ()
    if undeclared:
        known = ", ".join(sorted(p.name for p in spec.parameters)) or "none"
        warnings = (
            f"Parameter(s) not declared by '{spec.name}': {', '.join(sorted(undeclared))} "
            f"(passed to the run as given; declared: {known})",
        )
    return {**coerced, **undeclared}, warnings


@handles(TriggerRun)
def trigger_run(message: TriggerRun, *, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Validate the parameters against the spec (DLI-204) and start an adhoc run unless ``dry_run``."""
    name = message.dataset_name
    _, document = require_active(store, name)
    parameters, warnings = split_parameters(document.spec, message.parameters)
    if message.dry_run:
        return dry_run_result(
            name,
            parameters,
            warnings,
            f"Dry run: '{name}' ({document.source_type.value}) would run with {parameters or 'no parameters'}",
        )
    check_runnable(name, orchestrator, document.schedule.enabled)
    record = orchestrator.trigger(name, parameters=parameters, triggered_by=message.actor)
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        run_id=record.run_id,
        run_status=record.status,
        parameters=parameters,
        warnings=warnings,
        message=f"Run triggered: {record.run_id}",
    )


def _require_run(run_id: str, orchestrator: Orchestrator) -> RunRecord:
    record = orchestrator.get_run(run_id)
    if record is None:
        raise WorkflowNotFoundError(
            f"Run '{run_id}' not found",
            hints=("See the run ids of a workflow with 'dli workflow history -d <dataset>'.",),
            details={"run_id": run_id},
        )
    return record


@handles(StopRun)
def stop_run(message: StopRun, *, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Kill a pending or running run (DLI-807 when it already finished)."""
    run_id = message.run_id
    record = _require_run(run_id, orchestrator)
    if record.status.is_terminal:
        raise InvalidStateError(
            f"Run '{run_id}' already finished ({record.status.value})",
            hints=("Only pending or running runs can be stopped.",),
            details={"run_id": run_id, "run_status": record.status.value},
        )
    stopped = orchestrator.stop_run(run_id)
    return WorkflowRunResult(
        dataset_name=record.dataset_name,
        status=ResultStatus.SUCCESS,
        run_id=run_id,
        run_status=stopped.status,
        message=f"Run '{run_id}' stopped",
    )


@handles(GetRunStatus)
def get_run_status(message: GetRunStatus, *, store: SpecStore, orchestrator: Orchestrator) -> WorkflowStatusResult:
    """The current status of a run (DLI-800 when unknown)."""
    record = _require_run(message.run_id, orchestrator)
    code = store.read(SourceType.CODE, record.dataset_name) is not None
    return WorkflowStatusResult(
        run_status=record.status, **run_fields(record, SourceType.CODE if code else SourceType.MANUAL)
    )


@handles(GetRunLogs)
def get_run_logs(message: GetRunLogs, *, orchestrator: Orchestrator) -> RunLogs:
    """The task logs of a run."""
    _require_run(message.run_id, orchestrator)
    return RunLogs(run_id=message.run_id, text=orchestrator.logs(message.run_id))
