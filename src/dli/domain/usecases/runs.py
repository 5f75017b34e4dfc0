"""TriggerRun, StopRun, GetRunStatus and run logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dli.domain.model.enums import ResultStatus, SourceType
from dli.domain.model.errors import InvalidStateError, WorkflowNotFoundError
from dli.domain.model.parameters import coerce_parameters
from dli.domain.model.runs import split_run_id
from dli.domain.usecases._workflows import require_active
from dli.domain.model.workflow import RunLogs, WorkflowRunResult, WorkflowStatusResult
from dli.ports.orchestrator import Orchestrator, RunRecord
from dli.ports.spec_store import SpecStore

__all__ = ["check_runnable", "get_run_logs", "get_run_status", "stop_run", "trigger_run"]


def check_runnable(name: str, orchestrator: Orchestrator, enabled: bool) -> None:
    """A paused workflow's runs would wait in the queue until unpaused: refuse clearly instead."""
    paused = orchestrator.pause_states().get(name)
    if paused if paused is not None else not enabled:
        raise InvalidStateError(
            f"Workflow '{name}' is paused: its runs would not start",
            hints=(f"Unpause it first: dli workflow unpause {name}",),
            details={"dataset_name": name},
        )


def trigger_run(
    *,
    name: str,
    parameters: Mapping[str, Any] | None,
    dry_run: bool,
    actor: str | None,
    store: SpecStore,
    orchestrator: Orchestrator,
) -> WorkflowRunResult:
    """Validate ``parameters`` against the spec (DLI-204) and start an adhoc run unless ``dry_run``."""
    _, document = require_active(store, name)
    coerced = coerce_parameters(document.spec, parameters)
    if dry_run:
        return WorkflowRunResult(
            dataset_name=name,
            status=ResultStatus.SUCCESS,
            dry_run=True,
            parameters=coerced,
            message=f"Dry run: '{name}' ({document.source_type.value}) would run with {coerced or 'no parameters'}",
        )
    check_runnable(name, orchestrator, document.schedule.enabled)
    record = orchestrator.trigger(name, parameters=coerced, triggered_by=actor)
    return WorkflowRunResult(
        dataset_name=name,
        status=ResultStatus.SUCCESS,
        run_id=record.run_id,
        run_status=record.status,
        parameters=coerced,
        message=f"Run triggered: {record.run_id}",
    )


def _require_run(run_id: str, orchestrator: Orchestrator) -> RunRecord:
    split_run_id(run_id)
    record = orchestrator.get_run(run_id)
    if record is None:
        raise WorkflowNotFoundError(f"Run '{run_id}' not found", details={"run_id": run_id})
    return record


def _source_of(name: str, store: SpecStore) -> SourceType:
    return SourceType.CODE if store.read(SourceType.CODE, name) is not None else SourceType.MANUAL


def stop_run(*, run_id: str, store: SpecStore, orchestrator: Orchestrator) -> WorkflowRunResult:
    """Kill a pending or running run (DLI-807 when it already finished)."""
    record = _require_run(run_id, orchestrator)
    if record.status.is_terminal:
        raise InvalidStateError(
            f"Run '{run_id}' already finished ({record.status.value})",
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


def get_run_status(*, run_id: str, store: SpecStore, orchestrator: Orchestrator) -> WorkflowStatusResult:
    """The current status of a run (DLI-800 when unknown)."""
    record = _require_run(run_id, orchestrator)
    return WorkflowStatusResult(
        run_id=record.run_id,
        dataset_name=record.dataset_name,
        source_type=_source_of(record.dataset_name, store),
        run_status=record.status,
        run_type=record.run_type,
        parameters=dict(record.parameters),
        logical_date=record.logical_date,
        started_at=record.started_at,
        finished_at=record.finished_at,
        error_message=record.error_message,
        triggered_by=record.triggered_by,
    )


def get_run_logs(*, run_id: str, orchestrator: Orchestrator) -> RunLogs:
    """The task logs of a run."""
    _require_run(run_id, orchestrator)
    return RunLogs(run_id=run_id, text=orchestrator.logs(run_id))
